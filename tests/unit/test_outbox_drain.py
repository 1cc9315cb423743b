"""Draining the outbox in batches: many orders handled per transaction and per exchange with the store,
a failing event set aside without holding up the rest, and drain requests coalesced on the queue."""
from datetime import timedelta

import fakeredis
import pytest

from replenish.domain import commands
from replenish.domain.commands import LineRequest
from replenish.services import event_handlers


@pytest.fixture
def instant(container):
    container.bus.handle(commands.UpdateLimits("h1", cancel_windows={"web": 0}))
    return container


def household(container, i: int) -> str:
    """Each order its own household: a household's orders sent at once would go as one delivery
    (test_merged_deliveries), and these tests count orders through the drain."""
    if i == 0:
        return "h1"
    with container.uow() as uow:
        exists = uow.households.get(f"d{i}") is not None
    if not exists:
        container.bus.handle(commands.CreateHousehold(f"d{i}", f"Household {i}", "1 Main St", "UTC"))
        container.bus.handle(commands.UpdateLimits(f"d{i}", cancel_windows={"web": 0}))
    return f"d{i}"


def place_many(container, n):
    ids = [container.bus.handle(commands.PlaceOrder(household(container, i), "web", (LineRequest("TIDE-PODS-42", 1),),
                                                    idempotency_key=f"k{i}")).order_id for i in range(n)]
    container.deps.queue.events.clear()  # the drain finds them in the outbox, not through the queue
    return ids


def statuses(container, ids):
    with container.uow() as uow:
        return [uow.orders.get(i).status for i in ids]


def test_drain_handles_a_backlog_in_batches_and_books_each_order_once(instant, monkeypatch):
    ids = place_many(instant, 7)
    exchanges = []
    real = instant.deps.gateway.submit_many
    monkeypatch.setattr(instant.deps.gateway, "submit_many", lambda reqs: exchanges.append(len(reqs)) or real(reqs))
    assert event_handlers.drain_outbox(instant.deps, batch=3) == 7
    assert statuses(instant, ids) == ["submitted"] * 7
    assert exchanges == [3, 3, 1]  # one exchange with the store per batch, not one per order
    assert instant.store.attempts_by_key() == {i: 1 for i in ids}
    with instant.uow() as uow:
        placed = [n for i in range(7) for n in uow.notifications.for_household(household(instant, i))
                  if n.kind == "OrderPlaced"]
        assert len(placed) == 7  # every household notification still written
        assert [r.event_type for r in uow.outbox.timeline(ids[0])] == ["OrderPlaced", "OrderSubmitted"]
    assert event_handlers.drain_outbox(instant.deps, batch=3) == 0  # nothing handled twice


def test_event_that_keeps_failing_waits_with_backoff_and_the_rest_go_through(instant, clock, monkeypatch):
    ids = place_many(instant, 4)
    bad = ids[1]
    real = event_handlers.notify_household

    def flaky(event, uow, deps):
        if event.order_id == bad:
            raise RuntimeError("template bug")
        real(event, uow, deps)

    monkeypatch.setitem(instant.bus.consumers.table, "OrderPlaced", [event_handlers.schedule_submission, flaky])
    assert event_handlers.drain_outbox(instant.deps, batch=10) == 4
    assert statuses(instant, ids) == ["submitted", "pending", "submitted", "submitted"]
    with instant.uow() as uow:
        assert len(uow.outbox.unhandled(clock() + timedelta(hours=1))) == 1
    assert event_handlers.drain_outbox(instant.deps) == 0  # waiting out its retry delay: not taken again yet
    monkeypatch.setitem(instant.bus.consumers.table, "OrderPlaced", [event_handlers.schedule_submission, real])
    clock.advance(seconds=6)
    assert event_handlers.drain_outbox(instant.deps) == 1  # the bug is fixed; it goes through
    assert statuses(instant, ids)[1] == "submitted"
    assert instant.store.attempts_by_key() == {i: 1 for i in ids}


def test_relay_hands_over_an_event_no_drain_reached(instant, clock):
    place_many(instant, 1)
    queue = instant.deps.queue
    clock.advance(seconds=31)
    assert event_handlers.relay_outbox(instant.deps) == 1
    assert len(queue.events) == 1


class FakeCelery:
    class conf:
        task_default_queue = "q-test"

    def __init__(self):
        self.sent = []

    def send_task(self, name, args=None, **kw):
        self.sent.append(name)


def test_celery_queue_coalesces_drain_requests_until_a_drain_starts():
    from workers.queue import CeleryQueue
    app = FakeCelery()
    queue = CeleryQueue(app, redis=fakeredis.FakeRedis())
    for i in range(5):
        queue.handle_events([i])
    assert app.sent == ["workers.tasks.drain_outbox"]  # one queued drain covers all five commits
    queue.drain_started()
    queue.handle_events([6])
    assert app.sent == ["workers.tasks.drain_outbox"] * 2


def test_celery_queue_without_redis_still_sends():
    from workers.queue import CeleryQueue

    class Down:
        def set(self, *a, **kw):
            raise ConnectionError("redis down")

        def delete(self, *a):
            raise ConnectionError("redis down")

    app = FakeCelery()
    queue = CeleryQueue(app, redis=Down())
    queue.handle_events([1])
    queue.drain_started()
    queue.handle_events([2])
    assert app.sent == ["workers.tasks.drain_outbox"] * 2


def test_drain_lingers_before_taking_down_the_flag_so_commits_meanwhile_join_its_batch(instant, monkeypatch):
    calls = []
    place_many(instant, 2)
    monkeypatch.setattr(event_handlers.time, "sleep", lambda s: calls.append(("linger", s)))
    monkeypatch.setattr(instant.deps.queue, "drain_started", lambda: calls.append(("flag down", None)), raising=False)
    assert event_handlers.drain_outbox(instant.deps, linger=0.05) == 2
    assert calls == [("linger", 0.05), ("flag down", None)]
