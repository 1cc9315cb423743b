"""A flaky HTTP retailer on real PostgreSQL: refusals before booking and replies lost after booking, while
orders are placed and submitted concurrently (placing threads, workers draining the outbox, sweeps sending what
is due again). Every order ends up submitted, with the one booking the store made for it."""
from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from replenish.adapters import orm
from replenish.adapters.clock import system_clock
from replenish.adapters.http_retailer import HttpRetailer
from replenish.adapters.simulated_store import Faults, SimulatedStore, make_http_app
from replenish.db import make_engine
from replenish.domain import commands
from replenish.domain.commands import LineRequest
from replenish.services import event_handlers
from tests.doubles import RecordingQueue

from .test_order_flow import make_container, seed, store_books

pytestmark = pytest.mark.integration
SECRET = "flaky-store-secret"


@pytest.mark.parametrize("batch", [True, False], ids=["batch-endpoint", "concurrent-calls"])
def test_flaky_retailer_books_each_order_exactly_once_and_leaves_none_stuck(pg, redis_url, service_env, batch):
    store_engine = make_engine(pg)
    store = SimulatedStore(store_engine, system_clock)
    faults = Faults(refuse=0.15, lose=0.15)
    server = make_server("127.0.0.1", 0, make_http_app(store, [SECRET], faults, batch=batch), threaded=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    env = service_env(DATABASE_URL=pg, REDIS_URL=redis_url, SUBMIT_RETRY_BASE=0.05, SUBMIT_RETRY_CAP=0.4,
                      SUBMIT_GIVE_UP=3600, SUBMIT_GRACE=1, OUTBOX_LINGER_MS=0, OUTBOX_BATCH=20)
    url = f"http://127.0.0.1:{server.server_port}"

    def worker_container():  # each "worker" its own engine and gateway, as a worker process has
        return make_container(env, queue=RecordingQueue(), gateway=HttpRetailer(url, SECRET, timeout=(1, 5)))

    placer = worker_container()
    households = seed(placer, households=4)
    workers = [worker_container() for _ in range(3)]
    stop, errors = threading.Event(), []

    def place(n: int):
        try:
            for i in range(60):
                placer.bus.handle(commands.PlaceOrder(households[(n + i) % 4], "web", (LineRequest(f"SKU-{i % 20}"),)))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def work(container):
        try:
            while not stop.is_set():
                taken = event_handlers.handle_batch(container.deps, 20)  # new orders' events: first tries
                taken += event_handlers.submit_due(container.deps, budget=1)  # orders due again
                if not taken:
                    time.sleep(0.02)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    placers = [threading.Thread(target=place, args=(n,)) for n in range(4)]
    for t in threads + placers:
        t.start()
    for t in placers:
        t.join()

    def pending() -> int:
        with placer.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(orm.orders)
                                .where(orm.orders.c.status == "pending")).scalar_one()
    deadline = time.monotonic() + 120
    while pending() and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join(30)
    server.shutdown()
    assert not errors, errors

    o, books = orm.orders, orm.sim_store_orders
    with placer.engine.connect() as conn:
        orders = conn.execute(select(o.c.id, o.c.status, o.c.retailer_order_id, o.c.submit_attempts)).all()
        booking_rows = conn.execute(select(func.count()).select_from(books)).scalar_one()
    booked = store_books(placer.engine)  # each order in one booking (a household's orders sent at once share one)
    assert len(orders) == 240
    assert {row.status for row in orders} == {"submitted"}, "no order stuck pending or failed"
    assert len(booked) == 240  # every order booked, none twice, nothing else booked
    assert booking_rows == len({rid for rid, _ in booked.values()})
    assert all(booked[row.id][0] == row.retailer_order_id for row in orders)  # the booking the order records
    # the faults did happen, and the retries went through them
    assert faults.counts["refused"] and faults.counts["lost"]
    assert any(row.submit_attempts for row in orders)
    assert any(attempts > 1 for _, attempts in booked.values())  # lost replies sent again, booked once
    store_engine.dispose()
    for container in [placer, *workers]:
        container.engine.dispose()
