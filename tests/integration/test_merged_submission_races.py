"""Sending orders together on real PostgreSQL, under crashes and races: a group's key and members are decided once
and committed before anything is sent (a claim), so a worker dying between the store's booking and our record, a
second worker holding one of the orders, a cancellation in between, or workers racing to send one household's
orders never make the store book an order twice, and no order is left behind."""
from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest

from replenish.adapters.simulated_store import SimulatedStore
from replenish.domain import commands
from replenish.domain.commands import LineRequest
from replenish.domain.errors import OrderOnItsWay
from replenish.services import event_handlers, handlers
from replenish.services.ports import PermanentError
from tests.doubles import RecordingQueue

from .test_order_flow import make_container, seed, statuses, store_books

pytestmark = pytest.mark.integration


class WorkerKilled(BaseException):
    """What a SIGKILL looks like from inside the worker: nothing after this point runs, nothing is committed."""


class DyingStore:
    """The simulated store behind a worker that dies right after the store booked (the next ``die`` calls), or,
    with ``before``, right before it sends anything."""

    def __init__(self, store: SimulatedStore, die: int = 0, before: bool = False):
        self.store, self.die, self.before = store, die, before

    def submit_many(self, requests):
        if self.die and self.before:
            self.die -= 1
            raise WorkerKilled()
        answers = self.store.submit_many(requests)
        if self.die:
            self.die -= 1
            raise WorkerKilled()
        return answers

    def submit(self, request):
        return self.submit_many([request])[0]

    def __getattr__(self, name):
        return getattr(self.store, name)


@pytest.fixture
def worker(pg, redis_url, service_env):
    """Builds a "worker": its own engine and gateway (the shared simulated store's books), as a process has."""
    env = service_env(DATABASE_URL=pg, REDIS_URL=redis_url, SUBMIT_GRACE=0)
    store = make_container(env, queue=RecordingQueue()).store
    made = []

    def build(die: int = 0, before: bool = False, latency: float = 0.0):
        gateway = DyingStore(SimulatedStore(store.engine, store.clock, submit_latency=latency), die, before)
        container = make_container(env, queue=RecordingQueue(), gateway=gateway)
        made.append(container)
        return container

    yield build
    for container in made:
        container.engine.dispose()


def place(container, n: int = 3, household: str = "h0") -> list[str]:
    return [container.bus.handle(commands.PlaceOrder(household, "web", (LineRequest(f"SKU-{i}"),))).order_id
            for i in range(n)]


def sweep(container) -> int:
    return event_handlers.submit_due(container.deps, budget=0)


def retailer_orders(container) -> set[str]:
    return {rid for rid, _ in store_books(container).values()}


def test_a_group_a_dead_worker_sent_is_sent_again_as_the_same_group_while_another_transaction_holds_one_order(
        worker):
    """The interleaving the worker-kill fault test met: the store booked the household's orders as one retailer
    order, the worker died before recording it, and the next sweep could not lock the first order (another
    worker's sweep, or a cancellation, held it). Before claims, it sent the others as a new group under the
    second order's id: the store booked them a second time."""
    dying = worker(die=1)
    seed(dying)
    order_ids = place(dying)
    with pytest.raises(WorkerKilled):
        sweep(dying)
    live = worker()
    assert statuses(live) == {"pending": 3}
    with live.uow() as holder:  # another transaction holds the first order at this moment
        holder.orders.get(order_ids[0], for_update=True)
        sweep(live)  # the group is not held whole: left alone, not regrouped
        assert statuses(live) == {"pending": 3}
        holder.rollback()
    sweep(live)
    books = store_books(live)  # raises if an order was booked twice
    assert sorted(books) == sorted(order_ids) and len(retailer_orders(live)) == 1
    assert all(attempts == 2 for _, attempts in books.values())  # the same key, sent again
    assert statuses(live) == {"submitted": 3}


def test_an_order_of_a_group_a_dead_worker_sent_is_cancelled_at_the_store_once_it_has_answered(worker):
    """Cancelling an order of a group the store may hold, before its answer is recorded, is refused as on its way
    (cancelled here alone, it would stay booked, and the others would go under another key); after the next try
    the cancel takes its lines off the one booking."""
    dying = worker(die=1)
    seed(dying)
    first, *others = order_ids = place(dying)
    with pytest.raises(WorkerKilled):
        sweep(dying)
    live = worker()
    with pytest.raises(OrderOnItsWay):
        live.bus.handle(commands.CancelOrder("h0", first, "changed my mind"))
    sweep(live)
    assert live.bus.handle(commands.CancelOrder("h0", first, "changed my mind"))["status"] == "cancelled"
    books = store_books(live)
    assert sorted(books) == sorted(order_ids)
    [rid] = retailer_orders(live)
    assert [line["sku"] for line in live.deps.gateway.store.lines_of(rid)] == ["SKU-1", "SKU-2"]  # the first's off
    assert statuses(live) == {"submitted": 2, "cancelled": 1}


def test_a_group_claimed_by_a_worker_that_died_before_sending_is_sent_by_the_next_sweep(worker):
    dying = worker(die=1, before=True)
    seed(dying)
    order_ids = place(dying)
    with pytest.raises(WorkerKilled):
        sweep(dying)
    live = worker()
    assert statuses(live) == {"pending": 3} and not live.deps.gateway.store.bookings()
    sweep(live)
    [booking] = live.deps.gateway.store.bookings()
    assert sorted(booking["order_ids"]) == sorted(order_ids) and booking["attempts"] == 1
    assert statuses(live) == {"submitted": 3}


def test_two_workers_cannot_claim_one_order_into_two_groups(worker):
    """A worker claiming the household's orders holds them until its claim is committed: a second worker's sweep
    meanwhile takes none of them (it does not wait, and does not group them itself); afterwards it sends the
    group the first one wrote down, under its key."""
    first, second = worker(), worker()
    seed(first)
    order_ids = place(first)
    with first.uow() as claiming:
        orders = claiming.orders.due_for_submission_locked(first.clock(), timedelta(0), 100)
        [key], _ = handlers._claim(claiming, orders, first.deps, first.clock())
        assert sweep(second) == 0  # every order is held by the claim under way
        claiming.commit()
    assert sweep(second) == 3
    [booking] = second.deps.gateway.store.bookings()
    assert booking["idempotency_key"] == key and sorted(booking["order_ids"]) == sorted(order_ids)
    assert statuses(second) == {"submitted": 3}


ROUNDS, WORKERS = 6, 5


def race(workers, ids: list[str], household_of: dict[str, str], victim: str, rng: random.Random,
         errors: list) -> None:
    """One round: each worker sends ``ids`` its own way (a worker's batch of fresh orders, the due-orders
    sweep, one order's task), some dying right after the store booked or right before they sent, while the
    household cancels ``victim``; all let go at once."""
    barrier = threading.Barrier(len(workers) + 1, timeout=30)

    def send(container, how: str, dies: str | None, one: str):
        container.deps.gateway.die, container.deps.gateway.before = int(dies is not None), dies == "before"
        try:
            barrier.wait()
            if how == "fresh batch":
                handlers.submit_orders(list(ids), container.deps)
            elif how == "sweep":
                sweep(container)
            else:
                handlers.submit_order(commands.SubmitOrder(one), container.deps)
        except WorkerKilled:
            pass
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def cancel():
        try:
            barrier.wait()
            workers[0].bus.handle(commands.CancelOrder(household_of[victim], victim, "changed my mind"))
        except (OrderOnItsWay, PermanentError):  # on its way: the store has not answered yet
            pass
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(
        w, rng.choice(["fresh batch", "sweep", "one order"]), rng.choice([None, None, "after", "before"]),
        rng.choice(ids))) for w in workers]
    threads.append(threading.Thread(target=cancel))
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)


def test_workers_racing_to_send_one_households_orders_book_each_order_once_and_leave_none_behind(worker):
    """Rounds of: two households' fresh orders, five workers sending them at once, some dying, and a household
    cancelling one of them; then sweeps until nothing is left. Each order is in one booking at most; every order
    not cancelled is submitted with the booking that holds it; a cancelled order is in no booking, or its lines
    are off it."""
    rng = random.Random(7)
    workers = [worker(latency=0.02) for _ in range(WORKERS)]
    seed(workers[0], households=2)
    household_of: dict[str, str] = {}
    errors: list = []
    for _ in range(ROUNDS):
        ids = place(workers[0], 4, "h0") + place(workers[0], 3, "h1")
        household_of.update({order_id: "h0" if n < 4 else "h1" for n, order_id in enumerate(ids)})
        race(workers, ids, household_of, rng.choice(ids), rng, errors)
    assert not errors, errors
    for w in workers:
        w.deps.gateway.die = 0
    for _ in range(10):  # what the dead left: the next sweeps send it, under the keys it was claimed with
        if not statuses(workers[0]).get("pending"):
            break
        sweep(workers[0])
    books = store_books(workers[0])  # raises if an order was booked twice
    assert set(books) <= set(household_of)
    with workers[0].uow() as uow:
        for order_id in household_of:
            order = uow.orders.get(order_id)
            if order.status == "cancelled":
                assert order_id not in books or order_id not in _delivered(workers[0], books[order_id][0])
            else:
                assert order.status == "submitted", (order_id, order.status)
                assert books[order_id][0] == order.retailer_order_id


def _delivered(container, retailer_order_id: str) -> set[str]:
    """The orders a booking still delivers (those cancelled at the store taken off)."""
    row = container.deps.gateway.store._row(retailer_order_id)
    if row.cancelled_at is not None:
        return set()
    carried = set(row.payload.get("order_ids") or [row.idempotency_key])
    return carried - set(row.payload.get("cancelled_order_ids") or [])
