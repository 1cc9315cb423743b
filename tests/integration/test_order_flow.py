"""Orders through real PostgreSQL, Redis or RabbitMQ, and real `replenish worker` / `replenish beat` processes."""
from __future__ import annotations

import signal
import subprocess
import threading

import pytest
from sqlalchemy import func, select

from catalog.model import Product
from replenish.adapters import orm
from replenish.bootstrap import bootstrap
from replenish.config import Settings
from replenish.domain import commands
from replenish.domain.commands import LineRequest
from tests.doubles import RecordingQueue
from workers.celery_app import make_celery
from workers.queue import CeleryQueue

from .services import free_port, require_binary, wait_for

pytestmark = pytest.mark.integration

PRODUCTS = [Product(f"SKU-{i}", f"Product {i}", "Brand", "household/things", 1, "count", 199 + i) for i in range(20)]
NO_WINDOW = {"voice": 0, "button": 0, "appliance": 0, "web": 0}
FAST_STORE = {"SIM_CONFIRM_DELAY": 0.2, "SIM_SHIP_DELAY": 0.5, "SIM_DELIVER_DELAY": 1.0, "TRACK_INTERVAL": 0.5,
              "SWEEP_INTERVAL": 1, "RELAY_INTERVAL": 1, "RELAY_GRACE": 2, "SUBMIT_GRACE": 2}


def make_container(env: dict, **overrides):
    settings = Settings.from_env(env)
    queue = overrides.pop("queue", None) or CeleryQueue(make_celery(settings))
    return bootstrap(settings, queue=queue, **overrides)


def seed(container, households: int = 1) -> list[str]:
    with container.uow() as uow:
        uow.products.upsert_many(PRODUCTS)
        uow.session.commit()
    ids = []
    for n in range(households):
        household_id = f"h{n}"
        container.bus.handle(commands.CreateHousehold(household_id, f"Household {n}"))
        container.bus.handle(commands.UpdateLimits(household_id, cancel_windows=NO_WINDOW, clear_per_order_cap=True,
                                                   clear_per_month_cap=True))
        ids.append(household_id)
    return ids


def statuses(container) -> dict[str, int]:
    with container.engine.connect() as conn:
        rows = conn.execute(select(orm.orders.c.status, func.count()).group_by(orm.orders.c.status))
        return {status: count for status, count in rows}


def store_books(engine_or_container) -> dict[str, tuple[str, int]]:
    """Each order the store booked: (its booking, that booking's attempts). A household's orders sent at once
    share one booking (its payload names them); no order may be in two bookings."""
    t = orm.sim_store_orders
    engine = getattr(engine_or_container, "engine", engine_or_container)
    books: dict[str, tuple[str, int]] = {}
    with engine.connect() as conn:
        for r in conn.execute(select(t.c.idempotency_key, t.c.retailer_order_id, t.c.attempts, t.c.payload)):
            for order_id in (r.payload or {}).get("order_ids") or [r.idempotency_key]:
                assert order_id not in books, f"order {order_id} was booked twice"
                books[order_id] = (r.retailer_order_id, r.attempts)
    return books


def test_two_hundred_orders_flow_to_delivered(pg, redis_url, service_env, processes):
    env = service_env(DATABASE_URL=pg, REDIS_URL=redis_url, **FAST_STORE)
    container = make_container(env)
    households = seed(container, households=20)
    workers = [processes("worker", env, "-c", "2"), processes("worker", env, "-c", "2")]
    processes("beat", env)
    order_ids = []
    for i in range(200):
        result = container.bus.handle(commands.PlaceOrder(households[i % 20], "web",
                                                          (LineRequest(f"SKU-{i % 20}", 1 + i % 3),)))
        order_ids.append(result.order_id)
    try:
        wait_for(lambda: statuses(container).get("delivered") == 200, timeout=180, interval=0.5,
                 what="200 delivered orders")
    except AssertionError:
        raise AssertionError(f"{statuses(container)}\n{workers[0].tail()}") from None
    books = store_books(container)
    assert sorted(books) == sorted(order_ids)  # each order reached the store exactly once
    with container.uow() as uow:
        order = uow.orders.get(order_ids[7])
        assert order.retailer_order_id == books[order.id][0]
        # (an order sent in one delivery with others of its household also has an OrderSentTogether notice)
        assert [r.event_type for r in uow.outbox.timeline(order.id) if r.event_type != "OrderSentTogether"] == [
            "OrderPlaced", "OrderSubmitted", "OrderConfirmed", "OrderShipped", "OrderDelivered"]

    # Purchase history and the household's notice follow the delivery through the outbox, a moment later.
    def followed_through():
        with container.uow() as uow:
            return uow.purchases.count() == 200 and any(
                n.kind == "OrderDelivered" for n in uow.notifications.for_household(households[7]))
    wait_for(followed_through, timeout=30, interval=0.3, what="purchase history and delivery notices")


def test_worker_killed_mid_submission_is_restarted_and_each_order_reaches_the_store_once(
        pg, redis_url, rabbit_url, service_env, processes):
    # RabbitMQ hands unacknowledged messages back as soon as the dead worker's connection drops.
    env = service_env(DATABASE_URL=pg, REDIS_URL=redis_url, BROKER_URL=rabbit_url, SIM_SUBMIT_LATENCY=1.5,
                      SIM_CONFIRM_DELAY=3600, TRACK_INTERVAL=3600, SWEEP_INTERVAL=1, SUBMIT_GRACE=3)
    container = make_container(env)
    seed(container)
    worker = processes("worker", env, "-c", "2")
    # Beat runs throughout, as in any deployment: its due-orders sweep resubmits what a dead worker left.
    processes("beat", env)
    order_ids = [container.bus.handle(commands.PlaceOrder("h0", "web", (LineRequest(f"SKU-{i}"),))).order_id
                 for i in range(10)]

    def booked_but_not_recorded():
        books = store_books(container)
        with container.uow() as uow:
            pending = {o for o in books if uow.orders.get(o).status == "pending"}
        return pending

    in_flight = wait_for(booked_but_not_recorded, timeout=60, what="a submission in flight")
    worker.kill(signal.SIGKILL)  # the store has booked these orders; the worker never recorded it
    with container.uow() as uow:
        assert all(uow.orders.get(o).status == "pending" for o in in_flight)
    processes("worker", env, "-c", "2")
    wait_for(lambda: statuses(container).get("submitted") == 10, timeout=120, interval=0.5,
             what="all 10 orders submitted")
    books = store_books(container)
    assert sorted(books) == sorted(order_ids)
    with container.uow() as uow:
        for order_id in order_ids:
            assert uow.orders.get(order_id).retailer_order_id == books[order_id][0]
    # The killed submissions were delivered again and deduplicated by the store, not placed twice.
    assert all(books[o][1] >= 2 for o in in_flight)


def test_order_placed_while_redis_is_down_is_kept_and_dispatched_when_it_returns(
        pg, service_env, processes, tmp_path):
    redis_server = require_binary("redis-server")
    port = free_port()

    def start_redis():
        proc = subprocess.Popen([redis_server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                 "--appendonly", "no", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
        wait_for(lambda: _ping(port), timeout=10, what="redis up")
        return proc

    redis_proc = start_redis()
    env = service_env(DATABASE_URL=pg, REDIS_URL=f"redis://127.0.0.1:{port}/0", **FAST_STORE)
    container = make_container(env)
    seed(container)
    worker = processes("worker", env, "-c", "2")
    processes("beat", env)
    first = container.bus.handle(commands.PlaceOrder("h0", "web", (LineRequest("SKU-1"),))).order_id
    wait_for(lambda: _status(container, first) != "pending", timeout=60, what="first order submitted")

    redis_proc.terminate()
    redis_proc.wait(timeout=10)
    result = container.bus.handle(commands.PlaceOrder("h0", "web", (LineRequest("SKU-2"),)))
    assert result.status == "order_placed"  # the household's order is taken while Redis is away
    with container.uow() as uow:
        # Its event waits in the outbox until the broker is back. (The order itself may already have gone to the
        # store: the worker's sweep reads due orders from the database, not from Redis, and placing it can take
        # longer than the submit grace while the relay to the broker times out.)
        assert len(uow.outbox.unhandled(container.clock())) >= 1

    redis_proc = start_redis()
    try:
        wait_for(lambda: _status(container, result.order_id) in {"submitted", "confirmed", "shipped", "delivered"},
                 timeout=90, interval=0.5,
                 what=f"order dispatched after Redis came back; worker exit {worker.popen.poll()}")
        assert result.order_id in store_books(container)
        assert worker.popen.poll() is None, "the worker must ride out the broker outage"
    finally:
        redis_proc.terminate()
        redis_proc.wait(timeout=10)


def _ping(port: int) -> bool:
    import redis
    try:
        return redis.Redis(port=port, socket_connect_timeout=0.5).ping()
    except Exception:
        return False


def _status(container, order_id: str) -> str:
    with container.uow() as uow:
        return uow.orders.get(order_id).status


@pytest.mark.parametrize("same_key", [False, True], ids=["one-source", "one-source-and-key"])
def test_concurrent_placements_for_one_source_yield_one_order(pg, redis_url, service_env, same_key):
    """Placing takes no Redis lock: the household's limits row orders the placements, the unique indexes decide
    what races past it."""
    env = service_env(DATABASE_URL=pg, REDIS_URL=redis_url)
    container = make_container(env, queue=RecordingQueue())
    seed(container)
    barrier = threading.Barrier(8)
    results, errors = [], []

    def press():
        barrier.wait()
        try:
            results.append(container.bus.handle(commands.PlaceOrder(
                "h0", "button", (LineRequest("SKU-3"),), source_id="button:ABC",
                idempotency_key="press-1" if same_key else None)))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=press) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len({r.order_id for r in results}) == 1
    if same_key:  # the same request again: answered as the order it made
        assert all(r.status == "order_placed" for r in results) and sum(not r.replayed for r in results) == 1
    else:
        assert sorted(r.status for r in results).count("order_placed") == 1
    assert statuses(container) == {"pending": 1}


def test_concurrent_drains_take_disjoint_batches_without_waiting(pg, redis_url, service_env):
    """Two workers claiming at once on PostgreSQL: the second skips the rows the first holds (it neither
    waits for nor duplicates them), and a claim rolled back is claimable again."""
    env = service_env(DATABASE_URL=pg, REDIS_URL=redis_url)
    container = make_container(env, queue=RecordingQueue())
    seed(container)
    for i in range(10):
        container.bus.handle(commands.PlaceOrder("h0", "web", (LineRequest(f"SKU-{i}"),)))
    first, second = container.uow(), container.uow()
    with first, second:
        a = [r.id for r in first.outbox.claim_batch(6, container.clock())]
        b = [r.id for r in second.outbox.claim_batch(6, container.clock())]  # would block without SKIP LOCKED
        assert len(a) == 6 and len(b) == 4 and not set(a) & set(b)
        second.commit()
        first.rollback()  # the first worker died: its six are claimable again
    with container.uow() as uow:
        again = [r.id for r in uow.outbox.claim_batch(20, container.clock())]
    assert sorted(again) == sorted(a)
