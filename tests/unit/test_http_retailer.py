"""HttpRetailer against a small real HTTP server that plays the retailer."""
from __future__ import annotations

import hashlib
import hmac
import itertools
import threading
import time
from datetime import UTC, datetime

import pytest
from flask import Flask, jsonify, request
from werkzeug.serving import make_server

from replenish.adapters.http_retailer import HttpRetailer, sign, verify_signature
from replenish.services.ports import (
    PermanentError,
    RetailerStatus,
    SubmitLine,
    SubmitRequest,
    TransientError,
)

SECRET = "s3cret-shared-with-retailer"


class FakeRetailer:
    """State and knobs of the pretend retailer."""

    def __init__(self):
        self.lock = threading.Lock()
        self.orders: dict[str, dict] = {}  # retailer_order_id -> order
        self.by_key: dict[str, str] = {}  # Idempotency-Key -> retailer_order_id
        self.seen: list[dict] = []  # every request that reached a handler
        self.fail_next = 0  # answer this many requests with 503
        self.slow_next = 0  # sleep past the client's timeout for this many requests
        self.slow_seconds = 0.6
        self.out_of_stock = {"SKU-GONE"}
        self.ids = itertools.count(1000)
        self.in_flight = 0

    def settle(self, limit: float = 5.0) -> None:
        """Wait for requests the client gave up on to finish, so they do not leak into the next test."""
        deadline = time.monotonic() + limit
        while self.in_flight and time.monotonic() < deadline:
            time.sleep(0.01)

    def app(self) -> Flask:
        app = Flask("fake-retailer")

        @app.before_request
        def check():
            raw = request.get_data()
            with self.lock:
                self.in_flight += 1
                self.seen.append({
                    "method": request.method,
                    "path": request.path,
                    "key": request.headers.get("Idempotency-Key"),
                    "body": raw,
                })
                slow = self.slow_next > 0
                self.slow_next -= slow
                fail = self.fail_next > 0
                self.fail_next -= fail
            if slow:
                time.sleep(self.slow_seconds)
            if fail:
                return jsonify(error={"code": "unavailable", "message": "try later"}), 503
            if request.headers.get("X-Replenish-Key-Id") != "replenish":
                return jsonify(error={"code": "unknown_key", "message": "who are you"}), 401
            # Verified independently of the module under test, so a bug in sign() shows up here.
            parts = dict(p.split("=", 1) for p in request.headers.get("X-Replenish-Signature", "").split(","))
            want = hmac.new(SECRET.encode(), parts.get("t", "").encode() + b"." + raw, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(want, parts.get("v1", "")) or abs(time.time() - int(parts["t"])) > 300:
                return jsonify(error={"code": "bad_signature", "message": "signature mismatch"}), 401
            return None

        @app.teardown_request
        def done(_exc):
            with self.lock:
                self.in_flight -= 1

        @app.post("/orders")
        def create():
            body = request.get_json()
            key = request.headers.get("Idempotency-Key")
            if not key or key != body.get("idempotency_key"):
                return jsonify(error={"code": "bad_request", "message": "idempotency key missing"}), 400
            if not body.get("lines"):
                return jsonify(error={"code": "bad_request", "message": "no lines"}), 400
            if any(line["sku"] in self.out_of_stock for line in body["lines"]):
                return jsonify(error={"code": "out_of_stock", "message": "SKU-GONE is out of stock"}), 409
            with self.lock:
                if key in self.by_key:
                    rid = self.by_key[key]
                    return jsonify(retailer_order_id=rid, status=self.orders[rid]["status"]), 200
                rid = f"R{next(self.ids)}"
                self.by_key[key] = rid
                self.orders[rid] = {"status": "submitted", "body": body}
            return jsonify(retailer_order_id=rid, status="submitted"), 201

        @app.get("/orders/<rid>")
        def show(rid):
            order = self.orders.get(rid)
            if order is None:
                return jsonify(error={"code": "not_found", "message": "no such order"}), 404
            return jsonify(
                status=order["status"],
                tracking_url=order.get("tracking_url"),
                expected_delivery=order.get("expected_delivery"),
                delivery_photo_url=order.get("delivery_photo_url"),
            )

        @app.post("/orders/<rid>/cancel")
        def cancel(rid):
            order = self.orders.get(rid)
            if order is None:
                return jsonify(error={"code": "not_found", "message": "no such order"}), 404
            if order["status"] not in ("submitted", "confirmed"):
                return jsonify(error={"code": "too_late", "message": "already shipped"}), 409
            order["status"] = "cancelled"
            return jsonify(cancelled=True)

        return app

    def post_orders(self) -> list[dict]:
        return [s for s in self.seen if s["method"] == "POST" and s["path"] == "/orders"]


@pytest.fixture(scope="module")
def server():
    fake = FakeRetailer()
    srv = make_server("127.0.0.1", 0, fake.app(), threaded=True)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield fake, f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()
    thread.join(5)


@pytest.fixture
def retailer(server):
    fake, url = server
    fake.settle()
    with fake.lock:
        fake.orders.clear()
        fake.by_key.clear()
        fake.seen.clear()
        fake.fail_next = fake.slow_next = 0
    gateway = HttpRetailer(url, SECRET, timeout=(1.0, 0.2))
    return fake, gateway, None


def order(key="idem-1", sku="SKU-DET-1"):
    return SubmitRequest(
        idempotency_key=key,
        household_id="hh-1",
        address="1 Main St, Springfield",
        lines=(SubmitLine(sku=sku, quantity=2, unit_price_cents=1299),),
    )


def test_accepted_order_sends_the_documented_body(retailer):
    fake, gateway, _ = retailer
    result = gateway.submit(order())
    assert result.accepted and result.retailer_order_id in fake.orders
    sent = fake.orders[result.retailer_order_id]["body"]
    assert sent == {
        "idempotency_key": "idem-1",
        "household_id": "hh-1",
        "ship_to": "1 Main St, Springfield",
        "lines": [{"sku": "SKU-DET-1", "quantity": 2, "unit_price_cents": 1299}],
    }


def test_same_key_twice_is_one_order(retailer):
    fake, gateway, _ = retailer
    first = gateway.submit(order("k-twice"))
    second = gateway.submit(order("k-twice"))
    assert first.retailer_order_id == second.retailer_order_id
    assert len(fake.orders) == 1


def test_503_is_transient_at_once_and_the_next_try_carries_the_same_key_and_body(retailer):
    """No retry loop and no sleep in the gateway: the caller tries again later (the order's due time)."""
    fake, gateway, _ = retailer
    fake.fail_next = 2
    started = time.monotonic()
    for _ in range(2):
        with pytest.raises(TransientError, match="503"):
            gateway.submit(order("k-503"))
    assert time.monotonic() - started < 5  # nothing waited out a backoff (generous: the machine may be busy)
    result = gateway.submit(order("k-503"))
    assert result.accepted
    posts = fake.post_orders()
    assert len(posts) == 3
    assert {p["key"] for p in posts} == {"k-503"}
    assert len({p["body"] for p in posts}) == 1
    assert len(fake.orders) == 1


def test_timeout_then_next_try_finds_the_same_order(retailer):
    fake, gateway, _ = retailer
    fake.slow_next = 1  # the first request is handled by the retailer, but too late for us
    with pytest.raises(TransientError):
        gateway.submit(order("k-slow"))
    fake.settle()  # let the slow request finish on the server
    result = gateway.submit(order("k-slow"))
    assert result.accepted
    assert len(fake.orders) == 1 and fake.by_key["k-slow"] == result.retailer_order_id


def test_connection_refused_is_transient(server):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed as soon as we leave the block: nobody listens
    gateway = HttpRetailer(f"http://127.0.0.1:{port}", SECRET)
    with pytest.raises(TransientError):
        gateway.submit(order())


def test_400_is_permanent(retailer):
    fake, gateway, _ = retailer
    bad = SubmitRequest(idempotency_key="k-400", household_id="hh-1", address="x", lines=())
    with pytest.raises(PermanentError, match="400"):
        gateway.submit(bad)
    assert len(fake.post_orders()) == 1


def test_out_of_stock_is_refused_with_reason(retailer):
    fake, gateway, _ = retailer
    result = gateway.submit(order("k-oos", sku="SKU-GONE"))
    assert not result.accepted
    assert result.retailer_order_id is None
    assert "out of stock" in result.reason
    assert fake.orders == {}


def test_bad_signature_is_refused_by_the_retailer(server):
    fake, url = server
    gateway = HttpRetailer(url, "not-the-secret")
    with pytest.raises(PermanentError, match="401.*bad_signature"):
        gateway.submit(order("k-tampered"))
    assert "k-tampered" not in fake.by_key


def test_status_is_parsed_into_aware_datetimes(retailer):
    fake, gateway, _ = retailer
    rid = gateway.submit(order("k-status")).retailer_order_id
    fake.orders[rid].update(
        status="shipped",
        tracking_url="https://track.example/1",
        expected_delivery="2030-05-04T17:00:00Z",
        delivery_photo_url=None,
    )
    assert gateway.status(rid) == RetailerStatus(
        status="shipped",
        tracking_url="https://track.example/1",
        expected_delivery=datetime(2030, 5, 4, 17, 0, tzinfo=UTC),
        delivery_photo_url=None,
    )
    fake.orders[rid].update(status="delivered", expected_delivery="2030-05-04T19:00:00+02:00",
                            delivery_photo_url="https://photo.example/1.jpg")
    status = gateway.status(rid)
    assert status.expected_delivery == datetime(2030, 5, 4, 17, 0, tzinfo=UTC)
    assert status.expected_delivery.tzinfo is not None
    assert status.delivery_photo_url == "https://photo.example/1.jpg"


def test_status_of_unknown_order_or_status_is_permanent(retailer):
    fake, gateway, _ = retailer
    with pytest.raises(PermanentError, match="404"):
        gateway.status("R-nope")
    rid = gateway.submit(order("k-weird")).retailer_order_id
    fake.orders[rid]["status"] = "teleported"
    with pytest.raises(PermanentError, match="unknown status"):
        gateway.status(rid)


def test_cancel_true_then_false(retailer):
    fake, gateway, _ = retailer
    rid = gateway.submit(order("k-cancel")).retailer_order_id
    assert gateway.cancel(rid) is True
    assert fake.orders[rid]["status"] == "cancelled"
    assert gateway.cancel(rid) is False  # 409: nothing left to cancel
    shipped = gateway.submit(order("k-shipped")).retailer_order_id
    fake.orders[shipped]["status"] = "shipped"
    assert gateway.cancel(shipped) is False


# --- signature helpers -----------------------------------------------------------------------


def test_sign_and_verify_round_trip():
    body = b'{"a":1}'
    header = sign(SECRET, body, 1_700_000_000)
    assert header.startswith("t=1700000000,v1=")
    assert verify_signature(SECRET, header, body, now=1_700_000_100)
    assert verify_signature(SECRET, header, body.decode(), now=datetime.fromtimestamp(1_700_000_000, UTC))


@pytest.mark.parametrize(
    "secret, body, now",
    [
        ("wrong", b'{"a":1}', 1_700_000_000),  # tampered secret
        (SECRET, b'{"a":2}', 1_700_000_000),  # tampered body
        (SECRET, b'{"a":1}', 1_700_000_301),  # too late
        (SECRET, b'{"a":1}', 1_699_999_699),  # from the future
    ],
)
def test_verify_rejects(secret, body, now):
    assert not verify_signature(secret, sign(SECRET, b'{"a":1}', 1_700_000_000), body, now=now)


def test_verify_accepts_any_of_several_v1_values():
    body = b"payload"
    old = sign("old-secret", body, 1_700_000_000)
    new = sign("new-secret", body, 1_700_000_000)
    header = f"{old},v1={new.split('v1=')[1]},v0=ignored"
    assert verify_signature("old-secret", header, body, now=1_700_000_000)
    assert verify_signature("new-secret", header, body, now=1_700_000_000)
    assert not verify_signature("other", header, body, now=1_700_000_000)


@pytest.mark.parametrize("header", [None, "", "garbage", "t=abc,v1=00", "v1=00", "t=1700000000"])
def test_verify_rejects_malformed_headers(header):
    assert not verify_signature(SECRET, header, b"", now=1_700_000_000)
