"""ProactiveEventsClient against a stand-in Amazon (token + events endpoints) on 127.0.0.1."""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from skills.proactive import AlexaNotifier, ProactiveEventsClient, ProactiveEventsError, order_status_event

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


@dataclass
class StandIn:
    """Records requests; replies from queues (default: token ok / event 202)."""

    token_requests: list[dict] = field(default_factory=list)
    event_requests: list[dict] = field(default_factory=list)
    token_replies: list[tuple[int, dict | str]] = field(default_factory=list)
    event_replies: list[tuple[int, dict | str]] = field(default_factory=list)
    issued: int = 0
    base_url: str = ""


def make_handler(state: StandIn):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output quiet
            pass

        def _reply(self, status: int, body):
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if not isinstance(body, str) else "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path == "/auth/o2/token":
                state.token_requests.append({
                    "content_type": self.headers.get("Content-Type"),
                    "form": {k: v[0] for k, v in parse_qs(raw.decode()).items()},
                })
                if state.token_replies:
                    return self._reply(*state.token_replies.pop(0))
                state.issued += 1
                return self._reply(200, {"access_token": f"Atc|token-{state.issued}", "expires_in": 3600,
                                         "scope": "alexa::proactive_events", "token_type": "bearer"})
            if self.path == "/v1/proactiveEvents/stages/development":
                state.event_requests.append({
                    "authorization": self.headers.get("Authorization"),
                    "content_type": self.headers.get("Content-Type"),
                    "body": json.loads(raw),
                })
                if state.event_replies:
                    return self._reply(*state.event_replies.pop(0))
                return self._reply(202, "")
            self._reply(404, "no such path")

    return Handler


@pytest.fixture()
def amazon():
    state = StandIn()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


class Clock:
    def __init__(self):
        self.at = NOW

    def __call__(self):
        return self.at


@pytest.fixture()
def clock():
    return Clock()


@pytest.fixture()
def client(amazon, clock):
    return ProactiveEventsClient(
        "amzn1.application-oa2-client.test", "s3cret",
        token_url=f"{amazon.base_url}/auth/o2/token",
        events_url=f"{amazon.base_url}/v1/proactiveEvents/stages/development",
        clock=clock, timeout=5,
    )


def send_shipped(client, ref="order-1-shipped"):
    return client.send_order_status("amzn1.ask.account.USER", "ORDER_SHIPPED", "Replenish",
                                    NOW + timedelta(days=2), ref)


def test_token_request_uses_client_credentials_grant(client, amazon):
    send_shipped(client)
    assert amazon.token_requests == [{
        "content_type": "application/x-www-form-urlencoded",
        "form": {"grant_type": "client_credentials", "client_id": "amzn1.application-oa2-client.test",
                 "client_secret": "s3cret", "scope": "alexa::proactive_events"},
    }]


def test_event_is_posted_with_bearer_token_and_schema_shape(client, amazon):
    sent = send_shipped(client)
    [request] = amazon.event_requests
    assert request["authorization"] == "Bearer Atc|token-1"
    assert request["content_type"].startswith("application/json")
    body = request["body"]
    assert body == sent
    assert body == {
        "timestamp": "2025-03-01T12:00:00.000Z",
        "referenceId": "order-1-shipped",
        "expiryTime": "2025-03-02T12:00:00.000Z",
        "event": {
            "name": "AMAZON.OrderStatus.Updated",
            "payload": {
                "state": {"status": "ORDER_SHIPPED",
                          "deliveryDetails": {"expectedArrival": "2025-03-03T12:00:00.000Z"}},
                "order": {"seller": {"name": "localizedattribute:sellerName"}},
            },
        },
        "localizedAttributes": [{"locale": "en-US", "sellerName": "Replenish"}],
        "relevantAudience": {"type": "Unicast", "payload": {"user": "amzn1.ask.account.USER"}},
    }


def test_token_is_reused_until_shortly_before_expiry(client, amazon, clock):
    send_shipped(client, "a")
    clock.at = NOW + timedelta(minutes=58)
    send_shipped(client, "b")
    assert len(amazon.token_requests) == 1
    clock.at = NOW + timedelta(minutes=59, seconds=1)  # inside the 60 s refresh margin
    send_shipped(client, "c")
    assert len(amazon.token_requests) == 2
    assert [r["authorization"] for r in amazon.event_requests] == [
        "Bearer Atc|token-1", "Bearer Atc|token-1", "Bearer Atc|token-2"]


def test_401_refreshes_token_and_retries_once(client, amazon):
    amazon.event_replies = [(401, {"code": "INVALID_ACCESS_TOKEN", "message": "expired"})]
    send_shipped(client)
    assert len(amazon.token_requests) == 2
    assert [r["authorization"] for r in amazon.event_requests] == ["Bearer Atc|token-1", "Bearer Atc|token-2"]
    assert amazon.event_requests[0]["body"] == amazon.event_requests[1]["body"]


def test_second_401_is_an_error(client, amazon):
    amazon.event_replies = [(401, "nope"), (401, "still no")]
    with pytest.raises(ProactiveEventsError) as info:
        send_shipped(client)
    assert info.value.status == 401 and "still no" in str(info.value)
    assert not info.value.transient
    assert len(amazon.event_requests) == 2


@pytest.mark.parametrize("status, transient", [(400, False), (403, False), (429, True), (500, True), (503, True)])
def test_error_statuses_raise_with_response_text(status, transient, client, amazon):
    amazon.event_replies = [(status, {"code": "INVALID_REQUEST", "message": "bad expiryTime"})]
    with pytest.raises(ProactiveEventsError) as info:
        send_shipped(client)
    assert info.value.status == status
    assert "bad expiryTime" in str(info.value) and "bad expiryTime" in info.value.body
    assert info.value.transient is transient
    assert len(amazon.event_requests) == 1


def test_token_endpoint_error_is_raised(client, amazon):
    amazon.token_replies = [(400, {"error": "invalid_client", "error_description": "Client authentication failed"})]
    with pytest.raises(ProactiveEventsError) as info:
        send_shipped(client)
    assert info.value.status == 400 and "invalid_client" in str(info.value)
    assert amazon.event_requests == []


def test_token_response_without_token_is_an_error(client, amazon):
    amazon.token_replies = [(200, {"token_type": "bearer"})]
    with pytest.raises(ProactiveEventsError, match="access_token"):
        send_shipped(client)


def test_unreachable_endpoint_is_a_transient_error(clock):
    client = ProactiveEventsClient("id", "secret", token_url="http://127.0.0.1:9/auth/o2/token",
                                   events_url="http://127.0.0.1:9/events", clock=clock, timeout=2)
    with pytest.raises(ProactiveEventsError) as info:
        send_shipped(client)
    assert info.value.status is None and info.value.transient


def test_out_for_delivery_alias_and_statuses_without_arrival():
    common = dict(user_id="u", seller_name="S", reference_id="r", now=NOW,
                  expected_arrival=NOW + timedelta(hours=3))
    event = order_status_event(order_status="OUT_FOR_DELIVERY", **common)
    assert event["event"]["payload"]["state"] == {
        "status": "ORDER_OUT_FOR_DELIVERY", "deliveryDetails": {"expectedArrival": "2025-03-01T15:00:00.000Z"}}
    for status in ("ORDER_DELIVERED", "ORDER_RECEIVED", "PREORDER_RECEIVED"):
        assert order_status_event(order_status=status, **common)["event"]["payload"]["state"] == {"status": status}
    shipped_no_date = order_status_event(order_status="ORDER_SHIPPED", **{**common, "expected_arrival": None})
    assert shipped_no_date["event"]["payload"]["state"] == {"status": "ORDER_SHIPPED"}


@pytest.mark.parametrize("kwargs", [
    {"order_status": "LOST_IN_THE_MAIL"},
    {"expiry_minutes": 4},
    {"expiry_minutes": 1441},
    {"user_id": ""},
    {"reference_id": ""},
    {"expected_arrival": datetime(2025, 3, 2, 12, 0)},  # naive
])
def test_invalid_arguments_are_refused_before_any_request(kwargs):
    args = dict(user_id="u", order_status="ORDER_SHIPPED", seller_name="S", reference_id="r", now=NOW,
                expected_arrival=None, expiry_minutes=60)
    with pytest.raises(ValueError):
        order_status_event(**{**args, **kwargs})


@dataclass
class Msg:
    household_id: str
    kind: str
    text: str = ""
    order_id: str | None = None
    data: dict = field(default_factory=dict)


def test_alexa_notifier_maps_message_kinds(client, amazon):
    notifier = AlexaNotifier(client, {"h1": "amzn1.ask.account.H1"}.get, seller_name="Replenish")
    assert notifier.channel == "alexa"
    notifier.send(Msg("h1", "order_shipped", order_id="o-7", data={"expected_delivery": "2025-03-03T10:00:00Z"}))
    notifier.send(Msg("h1", "OrderDelivered", order_id="o-7"))
    notifier.send(Msg("h1", "order_cancelled", order_id="o-8"))   # no Alexa status: skipped
    notifier.send(Msg("h2", "order_shipped", order_id="o-9"))     # household not linked: skipped
    bodies = [r["body"] for r in amazon.event_requests]
    assert [b["event"]["payload"]["state"]["status"] for b in bodies] == ["ORDER_SHIPPED", "ORDER_DELIVERED"]
    assert bodies[0]["referenceId"] == "o-7-order_shipped"
    assert bodies[0]["event"]["payload"]["state"]["deliveryDetails"] == {"expectedArrival": "2025-03-03T10:00:00.000Z"}
    assert {b["relevantAudience"]["payload"]["user"] for b in bodies} == {"amzn1.ask.account.H1"}


def test_alexa_notifier_turns_5xx_into_transient_error(client, amazon):
    from replenish.services.ports import TransientError

    amazon.event_replies = [(503, "busy")]
    with pytest.raises(TransientError):
        AlexaNotifier(client, lambda h: "user").send(Msg("h1", "order_shipped", order_id="o-1"))


def test_alexa_notifier_stays_silent_without_the_households_consent(client, amazon):
    consented = {"h1"}
    notifier = AlexaNotifier(client, lambda h: f"amzn1.ask.account.{h}", allowed=lambda h: h in consented)
    notifier.send(Msg("h1", "order_shipped", order_id="o-1"))
    notifier.send(Msg("h2", "order_shipped", order_id="o-2"))  # linked, but never granted notifications
    assert [r["body"]["referenceId"] for r in amazon.event_requests] == ["o-1-order_shipped"]
