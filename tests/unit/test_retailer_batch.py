"""The HTTP retailer protocol's batch endpoint, as the simulated store serves it and HttpRetailer speaks it:
one result per order, refusals by name, lost replies that the next try recovers without a second booking, and
concurrent single calls when a retailer has no batch endpoint."""
from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from werkzeug.serving import make_server

from replenish.adapters import orm
from replenish.adapters.http_retailer import HttpRetailer
from replenish.adapters.simulated_store import Faults, SimulatedStore, make_http_app
from replenish.db import make_engine
from replenish.services.ports import SubmitLine, SubmitRequest, SubmitResult, TransientError

SECRET = "store-secret-for-tests"


class Scripted:
    """Fault draws in the order given, then none."""

    def __init__(self, *outcomes: str):
        self.outcomes = list(outcomes)

    def __call__(self) -> float:
        if not self.outcomes:
            return 0.99
        return {"refuse": 0.0, "lose": 0.15, "ok": 0.99}[self.outcomes.pop(0)]


@pytest.fixture
def serve(tmp_path):
    servers = []

    def start(batch: bool = True, script: Scripted | None = None):
        engine = make_engine(f"sqlite:///{tmp_path / f'store{len(servers)}.db'}")
        orm.metadata.create_all(engine, tables=[orm.sim_store_orders])
        store = SimulatedStore(engine, lambda: datetime.now(UTC), out_of_stock={"SKU-GONE"})
        faults = Faults(refuse=0.1, lose=0.1, rng=script or Scripted())
        app = make_http_app(store, [SECRET], faults, batch=batch)
        calls = []
        app.before_request_funcs.setdefault(None, []).insert(0, lambda: calls.append(
            __import__("flask").request.path))
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        servers.append((server, thread))
        return store, calls, f"http://127.0.0.1:{server.server_port}"
    yield start
    for server, thread in servers:
        server.shutdown()
        thread.join(5)


def request(key: str, sku: str = "SKU-1") -> SubmitRequest:
    return SubmitRequest(key, "h1", "1 Main St", (SubmitLine(sku, 2, 499),))


def test_a_batch_is_one_call_with_one_result_per_order(serve):
    store, calls, url = serve()
    answers = HttpRetailer(url, SECRET).submit_many([request("a"), request("b", "SKU-GONE"), request("c")])
    assert calls == ["/orders/batch"]
    assert [a.accepted for a in answers] == [True, False, True]
    assert answers[1] == SubmitResult(False, reason="out of stock: SKU-GONE")
    assert store.attempts_by_key() == {"a": 1, "c": 1}


def test_a_lost_batch_reply_then_the_next_try_books_each_order_once(serve):
    store, calls, url = serve(script=Scripted("lose", "refuse"))
    gateway = HttpRetailer(url, SECRET)
    with pytest.raises(TransientError, match="504"):
        gateway.submit_many([request("a"), request("b")])  # booked, reply lost
    assert set(store.attempts_by_key()) == {"a", "b"}
    with pytest.raises(TransientError, match="503"):
        gateway.submit_many([request("a"), request("b"), request("c")])  # refused: nothing booked
    assert set(store.attempts_by_key()) == {"a", "b"}
    first = gateway.submit_many([request("a"), request("b"), request("c")])
    again = gateway.submit_many([request("a"), request("b"), request("c")])
    assert [a.retailer_order_id for a in first] == [a.retailer_order_id for a in again]
    assert len({a.retailer_order_id for a in first}) == 3
    with store.engine.connect() as conn:
        assert conn.execute(orm.sim_store_orders.select()).all().__len__() == 3  # one booking an order


def test_a_retailer_without_a_batch_endpoint_gets_concurrent_single_calls(serve):
    store, calls, url = serve(batch=False, script=Scripted("ok", "refuse"))
    gateway = HttpRetailer(url, SECRET, concurrency=4)
    answers = gateway.submit_many([request(f"k{i}") for i in range(6)])
    assert calls[0] == "/orders/batch" and calls.count("/orders") == 6  # asked once, then one call an order
    assert sum(isinstance(a, TransientError) for a in answers) == 1  # the refused call, for its order only
    assert sum(isinstance(a, SubmitResult) and a.accepted for a in answers) == 5
    calls.clear()
    gateway.submit_many([request("k9")])
    assert calls == ["/orders"]  # the missing endpoint is remembered


def test_the_store_refuses_unsigned_and_malformed_batches(serve):
    import requests
    store, _, url = serve()
    assert requests.post(url + "/orders/batch", json={"orders": []}).status_code == 401
    from replenish.adapters.retailer_signing import sign
    for body in (b'{"orders": []}', b'{"orders": [{"idempotency_key": "a"}]}', b'[1]',
                 b'{"orders": [' + b",".join([b'{"idempotency_key": "x", "lines": [{"sku": "S", "quantity": 1, '
                                               b'"unit_price_cents": 1}]}'] * 2) + b']}'):
        response = requests.post(url + "/orders/batch", data=body, headers={"X-Replenish-Signature": sign(SECRET, body),
                                                                            "Content-Type": "application/json"})
        assert response.status_code == 400 and response.json()["error"]["code"] == "bad_request"
    assert store.attempts_by_key() == {}
