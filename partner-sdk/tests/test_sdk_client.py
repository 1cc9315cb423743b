"""The clients against a tiny in-process HTTP server (stdlib ``http.server`` in a thread) that verifies every
request's RFC 9421 signature with http-message-signatures' own verifier, as a Replenish server would, and answers
errors the way the API does (``{"error": {"code", "message"}}``). Nothing of the platform is needed here."""
import datetime
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from http_message_signatures import HTTPMessageVerifier, InvalidSignature, algorithms
from http_message_signatures.resolvers import HTTPSignatureKeyResolver

from replenish_partner import ButtonClient, PartnerClient, PartnerError
from replenish_partner.signatures import COVERED_COMPONENTS, TOLERANCE

KEYS = {"pk_live": "sk_live", "BTN-0001": "btn_secret"}


class Keys(HTTPSignatureKeyResolver):
    def resolve_public_key(self, key_id):
        return KEYS[key_id].encode()


class Verifier(HTTPMessageVerifier):
    max_clock_skew = datetime.timedelta(seconds=TOLERANCE)


class FakeApi(BaseHTTPRequestHandler):
    """Verifies the signature, records the request, and answers from ``server.answers`` by (method, path)."""

    def _handle(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        url = f"http://{self.headers['Host']}{self.path}"
        message = requests.Request(self.command, url, headers=dict(self.headers.items()), data=body).prepare()
        seen = {"method": self.command, "path": self.path, "headers": dict(self.headers.items()), "body": body}
        try:
            [result] = Verifier(signature_algorithm=algorithms.HMAC_SHA256, key_resolver=Keys()).verify(
                message, body=body, require_components=COVERED_COMPONENTS)
        except InvalidSignature as exc:
            seen["verified"] = None
            status, answer = 401, {"error": {"code": "unauthorized", "message": str(exc)}}
        else:
            seen["verified"] = {"keyid": result.parameters["keyid"], "nonce": result.nonce}
            status, answer = self.server.answers.get((self.command, self.path.split("?")[0]),
                                                     (404, {"error": {"code": "not_found", "message": "no route"}}))
        self.server.seen.append(seen)
        data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if not isinstance(answer, bytes) else "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = _handle

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture
def api():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
    server.seen, server.answers = [], {}
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_a_registration_arrives_signed_with_its_body_and_idempotency_key(api):
    api.answers[("POST", "/v1/partner/devices")] = (201, {"device_id": "dev_1", "key_id": "dev_1", "secret": "s"})
    client = PartnerClient(api.url, "pk_live", "sk_live")
    slots = [{"slot_id": "detergent", "products": ["TIDE-PODS-42"], "capacity": 84, "unit": "count"}]
    device = client.register_device("ABCD2345", "WM-0001", model="washer", slots=slots, test=True)
    assert device["device_id"] == "dev_1"
    [seen] = api.seen
    assert seen["verified"]["keyid"] == "pk_live" and seen["verified"]["nonce"]
    assert seen["headers"]["Idempotency-Key"] and seen["headers"]["Content-Type"] == "application/json"
    assert json.loads(seen["body"]) == {"link_code": "ABCD2345", "device_id": "WM-0001", "model": "washer",
                                        "slots": slots, "test": True}


def test_every_call_is_signed_gets_included_each_with_a_new_nonce(api):
    api.answers[("GET", "/v1/partner/keys")] = (200, {"keys": [{"key_id": "pk_live"}]})
    api.answers[("POST", "/v1/partner/devices/dev_1/slots/detergent/status")] = (200, {"decision": {}})
    client = PartnerClient(api.url + "/", "pk_live", "sk_live")  # a trailing slash is fine
    assert client.keys() == [{"key_id": "pk_live"}]
    client.report_slot_status("dev_1", "detergent", 12, original=84,
                              last_use=datetime.datetime(2026, 3, 10, 14, 0, tzinfo=datetime.UTC))
    client.report_slot_status("dev_1", "detergent", consumed=2.5, unit="count", idempotency_key="use-1")
    get, level, usage = api.seen
    assert get["method"] == "GET" and get["body"] == b"" and get["verified"]["keyid"] == "pk_live"
    assert json.loads(level["body"]) == {"remainingQuantityInUnit": 12, "originalQuantityInUnit": 84,
                                         "lastUseDate": "2026-03-10T14:00:00+00:00"}
    assert json.loads(usage["body"]) == {"consumed": 2.5, "unit": "count"}
    assert usage["headers"]["Idempotency-Key"] == "use-1"
    assert len({seen["verified"]["nonce"] for seen in api.seen}) == 3


def test_a_4xx_json_error_becomes_partner_error_with_status_and_code(api):
    api.answers[("POST", "/v1/partner/devices/dev_1/slots/detergent/replenish")] = (
        409, {"error": {"code": "slot_full", "message": "the slot is full", "field": "slot_id"}})
    client = PartnerClient(api.url, "pk_live", "sk_live")
    with pytest.raises(PartnerError) as conflict:
        client.replenish("dev_1", "detergent")
    assert (conflict.value.status, conflict.value.code) == (409, "slot_full")
    assert conflict.value.body["error"]["field"] == "slot_id" and "the slot is full" in str(conflict.value)
    with pytest.raises(PartnerError) as missing:
        client.order("no-such-order")
    assert (missing.value.status, missing.value.code) == (404, "not_found")
    assert [seen["verified"]["keyid"] for seen in api.seen] == ["pk_live", "pk_live"]  # signed all the same


def test_a_wrong_secret_is_refused_by_the_server(api):
    api.answers[("GET", "/v1/partner/keys")] = (200, {"keys": []})
    with pytest.raises(PartnerError) as refused:
        PartnerClient(api.url, "pk_live", "sk_wrong").keys()
    assert (refused.value.status, refused.value.code) == (401, "unauthorized")
    assert api.seen[0]["verified"] is None


def test_an_error_that_is_not_json_is_still_a_partner_error(api):
    api.answers[("GET", "/v1/partner/test-orders")] = (502, b"Bad Gateway")
    with pytest.raises(PartnerError) as failed:
        PartnerClient(api.url, "pk_live", "sk_live").test_orders()
    assert (failed.value.status, failed.value.code) == (502, "bad_response")


def test_a_button_press_is_signed_with_the_buttons_serial(api):
    api.answers[("POST", "/v1/buttons/BTN-0001/press")] = (200, {"status": "order_placed", "order_id": "o-1"})
    button = ButtonClient(api.url, "BTN-0001", "btn_secret")
    assert button.press(battery_mv=1500) == {"status": "order_placed", "order_id": "o-1"}
    raw = button.press("DOUBLE", raw=True)
    assert raw.status_code == 200
    assert [seen["verified"]["keyid"] for seen in api.seen] == ["BTN-0001", "BTN-0001"]
    assert [json.loads(seen["body"]) for seen in api.seen] == [{"click_type": "SINGLE", "battery_mv": 1500},
                                                                {"click_type": "DOUBLE"}]
