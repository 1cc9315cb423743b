"""One retry layer for submissions: the backoff schedule, the give-up and what the household is told; the sweep
sends orders again when they are due (SQLite, a hand-moved clock, a store that fails as told)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from replenish.domain import commands
from replenish.domain.commands import LineRequest
from replenish.services import event_handlers, messages
from replenish.services.ports import SubmitResult, TransientError
from replenish.services.retry import SubmitBackoff


def test_waits_double_from_the_base_up_to_the_cap():
    backoff = SubmitBackoff(base=1, cap=60, give_up_after=3600)
    assert [backoff.nominal(n) for n in range(1, 10)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_jitter_keeps_each_wait_between_half_and_all_of_it():
    backoff = SubmitBackoff(base=2, cap=300, give_up_after=3600)
    assert backoff.delay(3, rng=lambda: 0.0) == timedelta(seconds=4)
    assert backoff.delay(3, rng=lambda: 1.0) == timedelta(seconds=8)
    assert backoff.delay(3, rng=lambda: 0.5) == timedelta(seconds=6)
    assert backoff.delay(40, rng=lambda: 1.0) == timedelta(seconds=300)  # capped, however many tries


def test_gives_up_once_the_waits_add_up_to_the_give_up_time():
    backoff = SubmitBackoff(base=1, cap=300, give_up_after=2 * 3600)
    # 1 + 2 + ... + 256 = 511 s in 9 tries, then 300 s a try: 23 more reach 7200 s
    assert backoff.max_attempts == 32
    assert sum(backoff.nominal(n) for n in range(1, 32)) < 7200 <= sum(backoff.nominal(n) for n in range(1, 33))
    assert not backoff.gives_up(31) and backoff.gives_up(32)
    assert SubmitBackoff(base=1, cap=300, give_up_after=0).max_attempts == 1  # no retries at all


class FlakyStore:
    """Fails the next ``failures`` tries, then books (once per key, as a store deduplicating by key would)."""

    def __init__(self, failures: int):
        self.failures = failures
        self.tries: list[str] = []
        self.booked: dict[str, str] = {}

    def submit(self, request):
        self.tries.append(request.idempotency_key)
        if self.failures:
            self.failures -= 1
            raise TransientError("503 from the store")
        return SubmitResult(True, self.booked.setdefault(request.idempotency_key, f"R-{len(self.booked) + 1}"))

    def status(self, retailer_order_id):
        raise AssertionError("not tracked here")


@pytest.fixture
def flaky(make_container, settings):
    settings.submit_retry_base, settings.submit_retry_cap, settings.submit_give_up = 2, 60, 600

    def build(failures: int):
        store = FlakyStore(failures)
        container = make_container(gateway=store)
        container.bus.handle(commands.UpdateLimits("h1", cancel_windows={"web": 0}))
        return container, store
    return build


def place_and_hand_over(container) -> str:
    order_id = container.bus.handle(commands.PlaceOrder("h1", "web", (LineRequest("TIDE-PODS-42", 2),))).order_id
    queue = container.deps.queue
    while queue.events:
        container.bus.handle_event(queue.events.pop(0))
    return order_id


def order(container, order_id):
    """The order as stored, readable after its unit of work has ended."""
    from types import SimpleNamespace
    with container.uow() as uow:
        found = uow.orders.get(order_id)
        return SimpleNamespace(**{name: getattr(found, name) for name in (
            "status", "submit_after", "submit_attempts", "retailer_order_id", "failure_reason")})


def test_the_sweep_sends_an_order_again_when_it_is_due_and_the_store_books_it_once(flaky, clock):
    container, store = flaky(failures=2)
    order_id = place_and_hand_over(container)  # first try: refused
    due = order(container, order_id).submit_after
    assert timedelta(seconds=1) <= due - clock() <= timedelta(seconds=2)
    assert event_handlers.submit_due(container.deps) == 0  # not due yet: nothing sent
    assert store.tries == [order_id]
    clock.advance(seconds=2)
    assert event_handlers.submit_due(container.deps) == 1  # second try: refused, due 2-4 s later
    assert order(container, order_id).submit_attempts == 2
    clock.advance(seconds=4)
    event_handlers.submit_due(container.deps)  # third try: booked
    placed = order(container, order_id)
    assert placed.status == "submitted" and placed.retailer_order_id == store.booked[order_id]
    assert store.tries == [order_id] * 3 and len(store.booked) == 1
    clock.advance(seconds=60)
    assert event_handlers.submit_due(container.deps) == 0  # nothing more to send


def test_after_the_give_up_time_the_order_fails_and_the_household_hears_why(flaky, clock):
    container, store = flaky(failures=10 ** 6)
    order_id = place_and_hand_over(container)
    backoff = SubmitBackoff(2, 60, 600)
    for _ in range(backoff.max_attempts + 3):
        clock.advance(seconds=60)
        event_handlers.submit_due(container.deps)
        queue = container.deps.queue
        while queue.events:
            container.bus.handle_event(queue.events.pop(0))
    failed = order(container, order_id)
    assert failed.status == "failed" and failed.submit_attempts == backoff.max_attempts == 14
    assert len(store.tries) == 14  # and no try after the give-up
    assert failed.failure_reason.startswith("the store did not answer, though we tried 14 times over ")
    with container.uow() as uow:
        feed = [n.message for n in uow.notifications.for_household("h1") if n.kind == "OrderFailed"]
    assert len(feed) == 1
    assert feed[0].startswith("Your order of 2 x Tide PODS Laundry Detergent, 42 Count could not be placed: "
                              "the store did not answer, though we tried 14 times over ")
    assert order_id not in feed[0]


def test_a_whole_batch_the_store_did_not_answer_is_due_again_order_by_order(flaky, clock):
    container, store = flaky(failures=0)

    def refuse_all(requests):
        raise TransientError("the batch timed out")
    store.submit_many = refuse_all
    first, second = place_and_hand_over(container), place_and_hand_over(container)
    assert {order(container, o).submit_attempts for o in (first, second)} == {1}
    del store.submit_many  # the store answers again (one order at a time)
    clock.advance(seconds=2)
    assert event_handlers.submit_due(container.deps) == 2
    assert {order(container, o).status for o in (first, second)} == {"submitted"}


@pytest.mark.parametrize("seconds, words", [(1, "a second"), (40, "40 seconds"), (60, "a minute"),
                                            (12 * 60, "12 minutes"), (3600, "an hour"), (7300, "2 hours"),
                                            (86400 * 3, "3 days")])
def test_durations_are_said_in_words(seconds, words):
    assert messages.duration_words(seconds) == words
