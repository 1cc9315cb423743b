"""The partner SDK (``partner-sdk/``, package ``replenish_partner``) against the platform: the RFC 9421 headers it
signs requests with are what the server verifies, the webhooks the platform signs verify across a secret rotation,
and the button and partner clients work over the API. The SDK's tests that need nothing of the platform are in
``partner-sdk/tests``."""
import json
import time
from datetime import UTC, datetime

import pytest

from replenish.devices.adapters.webhook_sender import webhook_headers
from replenish.devices.domain import commands as dc
from replenish.devices.web import signatures
from replenish.web.errors import ApiError
from replenish_partner import ButtonClient, PartnerClient, PartnerError, signature_headers, verify_webhook

from .device_fakes import FlaskSession

BASE = "http://test"
PATH = "/v1/partner/devices/WM1/heartbeat?x=1"
BODY = b'{"mostRecentlyActiveDate":null}'


def verify(app, headers, *, method="POST", path=PATH, body=BODY, base_url=BASE, keys=None):
    """What the server makes of a request with these headers: its ``Verified``, or the ``ApiError`` it refuses."""
    keys = {"pk_1": "sk_one"} if keys is None else keys
    with app.test_request_context(path, method=method, data=body, headers=headers, base_url=base_url):
        try:
            return signatures.verify(lambda key_id: (keys[key_id], f"owner of {key_id}") if key_id in keys else None)
        except ApiError as exc:
            return exc


def test_sdk_signatures_are_what_the_server_verifies(app):
    headers = signature_headers("POST", BASE + PATH, BODY, "pk_1", "sk_one", nonce="nonce-0001")
    verified = verify(app, headers)
    assert isinstance(verified, signatures.Verified), verified.message
    assert (verified.key_id, verified.nonce, verified.principal) == ("pk_1", "nonce-0001", "owner of pk_1")
    assert verify(app, headers).fingerprint == verified.fingerprint  # byte-identical: the same request
    other = verify(app, signature_headers("POST", BASE + PATH, BODY, "pk_1", "sk_one", nonce="nonce-0002"))
    assert other.fingerprint != verified.fingerprint
    # Anything the signature covers, changed, and the key it names, are checked.
    refusals = {
        "wrong secret": verify(app, headers, keys={"pk_1": "sk_other"}),
        "unknown keyid": verify(app, headers, keys={}),
        "other method": verify(app, headers, method="PUT"),
        "other path": verify(app, headers, path=PATH.replace("WM1", "WM2")),
        "other query": verify(app, headers, path=PATH.replace("x=1", "x=2")),
        "other host": verify(app, headers, base_url="http://elsewhere"),
        "other body": verify(app, headers, body=BODY.replace(b"null", b'"2026-03-10T15:00:00Z"')),
    }
    for what, refused in refusals.items():
        assert isinstance(refused, ApiError) and refused.status == 401, what
    assert refusals["other body"].field == "Content-Digest"
    assert "keyid" in refusals["unknown keyid"].message


def test_a_get_is_signed_over_the_empty_body(app):
    headers = signature_headers("GET", BASE + "/v1/partner/keys", b"", "pk_1", "sk_one")
    assert isinstance(verify(app, headers, method="GET", path="/v1/partner/keys", body=b""), signatures.Verified)
    refused = verify(app, headers, method="GET", path="/v1/partner/keys", body=b"{}")
    assert isinstance(refused, ApiError) and refused.status == 401


def test_behind_a_proxy_the_public_url_is_what_is_verified(app, container, monkeypatch):
    """Signed for https://replenish.example, received as http://internal:8000 behind the proxy."""
    headers = signature_headers("POST", "https://replenish.example" + PATH, BODY, "pk_1", "sk_one")
    internal = "http://internal:8000"
    assert isinstance(verify(app, headers, base_url=internal), ApiError)
    monkeypatch.setattr(container.settings, "public_url", "https://replenish.example/")
    assert isinstance(verify(app, headers, base_url=internal), signatures.Verified)


@pytest.mark.parametrize("path", ["/v1/partner/devices/WM1/slots/a%3Ab/status",
                                  "/v1/partner/devices/WM%C3%A9/heartbeat"])
def test_a_url_as_the_client_percent_encoded_it_verifies(app, path):
    headers = signature_headers("POST", BASE + path, BODY, "pk_1", "sk_one")
    verified = verify(app, headers, path=path)
    assert isinstance(verified, signatures.Verified), verified.message


OLD_SECRET = "whsec_" + "b2xkLXNlY3JldC1rZXktMjQtYnl0ZXMh"  # base64 of 24 bytes
NEW_SECRET = "whsec_" + "c2VjcmV0LWtleS1vZi0zMi1ieXRlcy1mb3ItdGVzdHM="  # base64 of 32 bytes
OTHER_SECRET = "whsec_" + "b3RoZXItc2VjcmV0LWtleS0yNC1ieXRl"


def test_verify_webhook_accepts_either_secret_during_rotation_and_rejects_tampering():
    body = json.dumps({"id": "evt_1", "type": "order.placed"}).encode()
    headers = webhook_headers([OLD_SECRET, NEW_SECRET], "msg_1", body, datetime.fromtimestamp(1_000, UTC))
    assert headers["webhook-timestamp"] == "1000" and len(headers["webhook-signature"].split(" ")) == 2

    def client(secrets, now=1_010):
        return PartnerClient("http://x", "pk_x", "sk_x", webhook_secrets=secrets, clock=lambda: now)

    for secrets in ([OLD_SECRET], [NEW_SECRET], [OTHER_SECRET, NEW_SECRET]):
        assert client(secrets).verify_webhook(headers, body)["id"] == "evt_1"
    upper = {name.upper(): value for name, value in headers.items()}  # header names are case-insensitive
    assert client([NEW_SECRET]).verify_webhook(upper, body)["id"] == "evt_1"
    assert client([NEW_SECRET]).verify_webhook(headers, body, now=1_000 - 300)["id"] == "evt_1"
    assert verify_webhook([OLD_SECRET], headers, body, now=1_010)["id"] == "evt_1"  # the SDK's function alone
    refusals = {
        "other secret": (client([OTHER_SECRET]), headers, body),
        "no secret": (client([]), headers, body),
        "tampered body": (client([NEW_SECRET]), headers, body + b" "),
        "other id": (client([NEW_SECRET]), {**headers, "webhook-id": "msg_2"}, body),
        "other timestamp": (client([NEW_SECRET], now=1_001), {**headers, "webhook-timestamp": "1001"}, body),
        "too old": (client([NEW_SECRET], now=1_000 + 301), headers, body),
        "too new": (client([NEW_SECRET], now=1_000 - 301), headers, body),
        "bad timestamp": (client([NEW_SECRET]), {**headers, "webhook-timestamp": "abc"}, body),
        "no signature": (client([NEW_SECRET]), {k: v for k, v in headers.items() if k != "webhook-signature"}, body),
        "old scheme": (client([NEW_SECRET]), {"X-Replenish-Signature": "t=1000,v1=00"}, body),
    }
    for what, (verifier, sent, received) in refusals.items():
        with pytest.raises(PartnerError) as refused:
            verifier.verify_webhook(sent, received)
        assert refused.value.status == 401, what


def test_button_client_presses_through_the_api(app, container, token):
    registered = app.test_client().post("/v1/buttons", json={"sku": "CHARMIN-12"},
                                        headers={"Authorization": f"Bearer {token}"}).get_json()
    assert registered["key_id"] == registered["serial"]
    button = ButtonClient(BASE, registered["key_id"], registered["secret"], session=FlaskSession(app))
    first = button.press(battery_mv=1500)
    assert first["status"] == "order_placed"
    assert button.press() == {"status": "order_in_progress", "order_id": first["order_id"]}
    assert button.press("LONG")["status"] == "order_cancelled"
    with container.uow() as uow:
        assert uow.devices.button(registered["serial"]).battery == "1500mV"
    raw = button.press("DOUBLE", raw=True)
    assert raw.status_code == 200 and raw.json()["status"] == "status_requested"
    wrong = ButtonClient(BASE, registered["serial"], "btn_wrong", session=FlaskSession(app))
    with pytest.raises(PartnerError) as refused:
        wrong.press()
    assert refused.value.status == 401 and refused.value.code == "unauthorized"
    late = ButtonClient(BASE, registered["serial"], registered["secret"], session=FlaskSession(app),
                        clock=lambda: time.time() - 301)
    with pytest.raises(PartnerError) as stale:
        late.press()
    assert stale.value.status == 401


def test_partner_client_signs_every_call_including_gets(app, container, token):
    partner = container.bus.handle(dc.CreatePartner("Acme", ""))
    assert partner["key_id"].startswith("pk_") and "api_key" not in partner
    sdk = PartnerClient(BASE, partner["key_id"], partner["secret"], webhook_secrets=[partner["webhook_secret"]],
                        session=FlaskSession(app))
    listed = sdk.keys()  # a signed GET
    assert [k["key_id"] for k in listed] == [partner["key_id"]]
    code = container.bus.handle(dc.CreateLinkCode("h1"))["code"]
    slots = [{"slot_id": "tank", "products": ["TIDE-PODS-42"], "capacity": 84, "threshold": 20, "target": 84}]
    device = sdk.register_device(code, "WM-0001", model="washer", slots=slots, idempotency_key="reg-1")
    assert "device_token" not in device and device["key_id"] == device["device_id"] and device["secret"]
    assert sdk.register_device(code, "WM-0001", model="washer", slots=slots, idempotency_key="reg-1") == device
    assert sdk.device(device["device_id"])["device_id"] == device["device_id"]
    # The device's own key works on its own routes.
    own = PartnerClient(BASE, device["key_id"], device["secret"], session=FlaskSession(app))
    assert own.heartbeat(device["device_id"])["device_id"] == device["device_id"]
    with pytest.raises(PartnerError) as out_of_scope:
        own.keys()
    assert out_of_scope.value.status == 401
    for impostor in (PartnerClient(BASE, partner["key_id"], "sk_wrong", session=FlaskSession(app)),
                     PartnerClient(BASE, partner["key_id"], partner["secret"], session=FlaskSession(app),
                                   clock=lambda: time.time() + 360)):
        with pytest.raises(PartnerError) as refused:
            impostor.keys()
        assert refused.value.status == 401
