"""Fewer deliveries: a household's orders that go to the store at the same time go as one retailer order, and,
when it chose so, its waiting orders go with the first one due. Each keeps its own timeline and can be cancelled
(before it is sent, or by taking its lines off the shared order); one booking per group under lost replies;
test orders never join. SQLite, a hand-moved clock and the simulated store."""
from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

from replenish.domain import commands
from replenish.domain.commands import LineRequest
from replenish.domain.errors import LimitExceeded, OrderOnItsWay
from replenish.services import event_handlers, merging
from replenish.services.ports import PermanentError, TransientError
from replenish.services.views import order_view

TIDE, CHARMIN = "TIDE-PODS-42", "CHARMIN-12"
TIDE_NAME = "Tide PODS Laundry Detergent, 42 Count"
CHARMIN_NAME = "Charmin Ultra Soft Toilet Paper, 12 Mega Rolls"


@pytest.fixture
def home(make_container, settings):
    settings.submit_grace_seconds = 5
    container = make_container()
    container.bus.handle(commands.UpdateLimits("h1", cancel_windows={"web": 600}))
    return container


def place(container, sku: str, quantity: int = 1, test: bool = False) -> str:
    """Places an order, then lets a second pass (the next order is due a second later)."""
    placed = container.bus.handle(commands.PlaceOrder("h1", "web", (LineRequest(sku, quantity),), test=test))
    container.deps.clock.advance(seconds=1)
    return placed.order_id


def handle_events(container) -> None:
    queue = container.deps.queue
    while queue.events:
        container.bus.handle_event(queue.events.pop(0))


def api_view(container, order_id):
    """The order as the API and the dashboard show it."""
    with container.uow() as uow:
        return order_view(uow.orders.get(order_id))


def order(container, order_id):
    with container.uow() as uow:
        found = uow.orders.get(order_id)
        return SimpleNamespace(**{name: getattr(found, name) for name in (
            "status", "retailer_order_id", "merge_group", "submit_key", "submit_attempts", "submit_after")})


def timeline(container, order_id) -> list[str]:
    with container.uow() as uow:
        return [row.event_type for row in uow.outbox.timeline(order_id)]


def feed(container, kind: str = "OrderSentTogether") -> list[str]:
    with container.uow() as uow:
        return [n.message for n in uow.notifications.for_household("h1") if n.kind == kind and n.channel == "feed"]


def saved(container, days: int = 30) -> int:
    with container.uow() as uow:
        return merging.deliveries_saved(uow, "h1", container.deps.clock() - timedelta(days=days))


def test_orders_due_together_go_as_one_retailer_order_each_with_its_own_timeline(home, clock):
    first, second = place(home, TIDE, 2), place(home, CHARMIN)
    handle_events(home)
    clock.advance(seconds=600 + 6)
    assert event_handlers.submit_due(home.deps) == 2
    a, b = order(home, first), order(home, second)
    assert a.status == b.status == "submitted"
    assert a.retailer_order_id == b.retailer_order_id
    bookings = home.store.bookings()
    assert len(bookings) == 1 and bookings[0]["order_ids"] == [first, second]  # in the order they were placed
    # the group's own key, written on both before they were sent (no order's id: alone, that is an order's key)
    assert bookings[0]["idempotency_key"] == a.submit_key == b.submit_key not in (first, second)
    assert {line["sku"] for line in home.store.lines_of(a.retailer_order_id)} == {TIDE, CHARMIN}
    assert timeline(home, first)[:2] == timeline(home, second)[:2] == ["OrderPlaced", "OrderSubmitted"]
    handle_events(home)
    notices = feed(home)
    assert f"Your order of 2 x {TIDE_NAME} went to the store together with your order of {CHARMIN_NAME}, in one " \
           "delivery." in notices
    assert all("went before" not in n for n in notices)  # neither went before its deadline
    assert all(first not in n and second not in n for n in notices)
    assert saved(home) == 1


def test_merging_is_on_by_default_and_a_deployment_that_turns_it_off_sends_each_order_on_its_own(
        make_container, settings, clock):
    from replenish.config import Settings
    assert Settings.from_env({}).merge_deliveries is True
    assert Settings.from_env({"REPLENISH_MERGE_DELIVERIES": "0"}).merge_deliveries is False
    settings.merge_deliveries, settings.submit_grace_seconds = False, 5
    home = make_container()
    home.bus.handle(commands.UpdateLimits("h1", cancel_windows={"web": 600}, send_together=True))
    first, second = place(home, TIDE), place(home, CHARMIN)
    handle_events(home)
    clock.advance(seconds=606)
    assert event_handlers.submit_due(home.deps) == 2
    assert sorted((b["idempotency_key"], b["order_ids"]) for b in home.store.bookings()) == sorted(
        [(first, [first]), (second, [second])])  # each under its own id, as before merging existed
    assert order(home, first).retailer_order_id != order(home, second).retailer_order_id
    assert saved(home) == 0


def test_a_waiting_order_is_not_sent_early_unless_the_household_chose_so(home, clock):
    first = place(home, TIDE)
    clock.advance(minutes=5)
    second = place(home, CHARMIN)
    handle_events(home)
    clock.advance(minutes=5, seconds=6)  # the first is due, the second has 5 minutes of its window left
    event_handlers.submit_due(home.deps)
    assert order(home, first).status == "submitted" and order(home, second).status == "pending"
    assert order(home, first).merge_group is None
    assert len(home.store.bookings()) == 1 and saved(home) == 0


def test_with_send_together_the_waiting_order_goes_with_the_first_one_due_and_the_household_is_told(home, clock):
    home.bus.handle(commands.UpdateLimits("h1", send_together=True))
    first = place(home, TIDE)
    clock.advance(minutes=5)  # 15:05 UTC: its window ends at 15:15 UTC, 11:15 AM in New York
    second = place(home, CHARMIN)
    handle_events(home)
    clock.advance(minutes=5, seconds=6)
    assert event_handlers.submit_due(home.deps) == 1  # one order was due; the other went with it
    a, b = order(home, first), order(home, second)
    assert a.status == b.status == "submitted" and a.retailer_order_id == b.retailer_order_id
    assert len(home.store.bookings()) == 1
    handle_events(home)
    told = {n for n in feed(home) if n.startswith(f"Your order of {CHARMIN_NAME}")}
    assert told == {f"Your order of {CHARMIN_NAME} went to the store together with your order of {TIDE_NAME}, in "
                    "one delivery. It went before today at 11:15 AM, the cancel deadline you were given: you can still "
                    "cancel it until then, and the store takes it off the delivery as long as it has not shipped."}


def test_an_order_cancelled_before_it_is_sent_stays_out_of_the_group(home, clock):
    home.bus.handle(commands.UpdateLimits("h1", send_together=True))
    first, second = place(home, TIDE), place(home, CHARMIN)
    handle_events(home)
    home.bus.handle(commands.CancelOrder("h1", second, "changed my mind"))
    clock.advance(seconds=606)
    event_handlers.submit_due(home.deps)
    assert order(home, first).status == "submitted" and order(home, second).status == "cancelled"
    booking = home.store.bookings()[0]
    assert booking["order_ids"] == [first]
    assert [line["sku"] for line in home.store.lines_of(booking["retailer_order_id"])] == [TIDE]


def sent_together(home, clock) -> tuple[str, str, str]:
    first, second = place(home, TIDE), place(home, CHARMIN)
    handle_events(home)
    clock.advance(seconds=606)
    event_handlers.submit_due(home.deps)
    handle_events(home)
    return first, second, order(home, first).retailer_order_id


def test_an_order_cancelled_after_it_was_sent_together_has_its_lines_taken_off(home, clock):
    first, second, rid = sent_together(home, clock)
    assert saved(home) == 1
    home.bus.handle(commands.CancelOrder("h1", second, "changed my mind"))
    assert order(home, second).status == "cancelled"
    assert [line["sku"] for line in home.store.lines_of(rid)] == [TIDE]  # the store delivers the rest
    assert saved(home) == 0  # a cancelled order saved no delivery
    clock.advance(hours=3)  # the simulated store delivers after 2 hours
    home.bus.handle(commands.TrackOrder(first))
    assert order(home, first).status == "delivered"
    assert order(home, second).status == "cancelled"


def test_cancelling_an_order_of_a_shared_delivery_that_has_shipped_is_refused_with_the_reason(home, clock):
    first, second, rid = sent_together(home, clock)
    clock.advance(hours=1, minutes=1)  # shipped
    with pytest.raises(PermanentError) as refused:
        home.bus.handle(commands.CancelOrder("h1", second, "too late"))
    assert str(refused.value) == (f"This order went to the store in one delivery with your order of {TIDE_NAME}, "
                                  "and it has already shipped, so it can no longer be cancelled.")
    assert order(home, second).status == "submitted"
    assert sorted(line["sku"] for line in home.store.lines_of(rid)) == sorted([TIDE, CHARMIN])
    for order_id in (first, second):  # both follow the shared retailer order to the door
        clock.advance(hours=1)
        home.bus.handle(commands.TrackOrder(order_id))
        assert order(home, order_id).status == "delivered"


class LosingStore:
    """The simulated store behind a proxy that loses the next ``losses`` replies (after the store booked)."""

    def __init__(self, store, losses: int):
        self.store, self.losses, self.calls = store, losses, []

    def submit_many(self, requests):
        self.calls.append([r.idempotency_key for r in requests])
        answers = self.store.submit_many(requests)
        if self.losses:
            self.losses -= 1
            raise TransientError("504: the reply was lost")
        return answers

    def __getattr__(self, name):
        return getattr(self.store, name)


def losing(make_container, settings, losses: int):
    settings.submit_grace_seconds, settings.submit_retry_base = 5, 2
    plain = make_container()
    container = make_container(gateway=LosingStore(plain.store, losses))
    container.bus.handle(commands.UpdateLimits("h1", cancel_windows={"web": 600}))
    return container, container.deps.gateway


def test_a_merged_group_whose_reply_was_lost_is_booked_once(make_container, settings, clock):
    home, gateway = losing(make_container, settings, losses=2)
    first, second = place(home, TIDE), place(home, CHARMIN)
    handle_events(home)
    clock.advance(seconds=606)
    event_handlers.submit_due(home.deps)  # booked, reply lost
    a, b = order(home, first), order(home, second)
    assert a.status == b.status == "pending" and a.submit_key == b.submit_key  # still claimed together
    assert a.submit_after == b.submit_after  # due again together
    for _ in range(2):
        clock.advance(seconds=5)
        event_handlers.submit_due(home.deps)
    a, b = order(home, first), order(home, second)
    assert a.status == b.status == "submitted" and a.retailer_order_id == b.retailer_order_id
    assert gateway.calls == [[a.submit_key]] * 3  # one key, three tries
    bookings = gateway.store.bookings()
    assert len(bookings) == 1 and bookings[0]["attempts"] == 3


def test_an_order_the_store_may_hold_is_cancelled_once_the_store_has_answered_and_comes_off_the_booking(
        make_container, settings, clock):
    """Between a lost reply and the next try the store may hold the group under its key: cancelling one of its
    orders then would leave it booked, so the household is told it is on its way; once the store has answered
    (the next try), the order is cancelled at the store and its lines come off the delivery."""
    home, gateway = losing(make_container, settings, losses=1)
    first, second = place(home, TIDE), place(home, CHARMIN)
    handle_events(home)
    clock.advance(seconds=606)
    event_handlers.submit_due(home.deps)  # the store booked both; we never heard
    with pytest.raises(OrderOnItsWay) as refused:
        home.bus.handle(commands.CancelOrder("h1", second, "changed my mind"))
    assert str(refused.value) == (
        f"This order is on its way to the store in one delivery with your order of {TIDE_NAME}, and the store has "
        "not answered yet, so it cannot be cancelled at this moment. Try again in a minute: once the store has it, "
        "it can be cancelled until it ships.")
    assert order(home, second).status == "pending"
    assert not api_view(home, second)["can_cancel"]  # the API and the dashboard offer no cancel while on its way
    clock.advance(seconds=5)
    event_handlers.submit_due(home.deps)  # the group's key again: the store answers with its booking
    assert api_view(home, second)["can_cancel"]
    assert home.bus.handle(commands.CancelOrder("h1", second, "changed my mind"))["status"] == "cancelled"
    a = order(home, first)
    assert a.status == "submitted" and order(home, second).status == "cancelled"
    assert [line["sku"] for line in gateway.store.lines_of(a.retailer_order_id)] == [TIDE]
    assert len(gateway.store.bookings()) == 1


class WorkerKilled(BaseException):
    """A SIGKILL as seen from inside the worker: nothing after it runs, nothing more is committed."""


class DyingStore(LosingStore):
    """The simulated store behind a worker that dies right after the store booked (the next ``losses`` calls)."""

    def submit_many(self, requests):
        self.calls.append([r.idempotency_key for r in requests])
        answers = self.store.submit_many(requests)
        if self.losses:
            self.losses -= 1
            raise WorkerKilled()
        return answers


def test_a_group_a_dead_worker_sent_is_sent_again_as_the_same_group_under_the_same_key(make_container, settings,
                                                                                      clock):
    """A worker died after the store booked {first, second} (the second still inside its window, sent early) and
    before it recorded the answer. The household then turned sending together off, and the second's window
    closed: the next tries still send the group it was claimed in, under its key, and the store's one booking
    is recorded for both."""
    settings.submit_grace_seconds = 5
    plain = make_container()
    gateway = DyingStore(plain.store, 1)
    home = make_container(gateway=gateway)
    home.bus.handle(commands.UpdateLimits("h1", cancel_windows={"web": 600}, send_together=True))
    first = place(home, TIDE)
    clock.advance(minutes=5)
    second = place(home, CHARMIN)
    handle_events(home)
    clock.advance(minutes=5, seconds=6)
    with pytest.raises(WorkerKilled):
        event_handlers.submit_due(home.deps)
    a, b = order(home, first), order(home, second)
    assert a.status == b.status == "pending" and a.submit_key == b.submit_key == gateway.calls[0][0]
    with pytest.raises(OrderOnItsWay):  # the store may have it: not cancelled behind its back
        home.bus.handle(commands.CancelOrder("h1", second, "changed my mind"))
    home.bus.handle(commands.UpdateLimits("h1", send_together=False))
    clock.advance(minutes=6)  # both due now, on their own terms
    event_handlers.submit_due(home.deps)
    a, b = order(home, first), order(home, second)
    assert a.status == b.status == "submitted" and a.retailer_order_id == b.retailer_order_id
    assert gateway.calls == [[a.submit_key], [a.submit_key]]
    [booking] = gateway.store.bookings()
    assert booking["order_ids"] == [first, second] and booking["attempts"] == 2


def test_a_group_is_written_down_before_the_store_sees_it(make_container, settings, clock):
    """Whatever the store is sent, our database already says: these orders, under this key (committed, as
    another connection reads it)."""
    seen = []

    class Watching(LosingStore):
        def submit_many(self, requests):
            with home.uow() as uow:  # a transaction of its own: only what was committed
                for request in requests:
                    ids = [p.order_id for p in request.parts] or [request.idempotency_key]
                    seen.append((sorted(ids), sorted(o.id for o in uow.orders.claimed_with(request.idempotency_key))))
            return self.store.submit_many(requests)

    settings.submit_grace_seconds = 5
    plain = make_container()
    home = make_container(gateway=Watching(plain.store, 0))
    home.bus.handle(commands.UpdateLimits("h1", cancel_windows={"web": 600}))
    ids = [place(home, TIDE if i % 2 else CHARMIN) for i in range(12)]
    handle_events(home)
    clock.advance(seconds=606)
    event_handlers.submit_due(home.deps)
    assert sorted(len(sent) for sent, _ in seen) == [2, merging.MAX_ORDERS]
    assert all(sent == claimed for sent, claimed in seen)
    assert sorted(o for sent, _ in seen for o in sent) == sorted(ids)


def test_test_orders_and_orders_a_cap_refused_never_join_a_real_one(home, clock):
    home.bus.handle(commands.UpdateLimits("h1", send_together=True, per_order_cap_cents=2000))
    real = place(home, TIDE)
    trial = place(home, CHARMIN, test=True)
    with pytest.raises(LimitExceeded):
        place(home, TIDE, 5)  # over the cap: no order at all
    handle_events(home)
    clock.advance(seconds=606)
    event_handlers.submit_due(home.deps)
    booking = home.store.bookings()
    assert len(booking) == 1 and booking[0]["order_ids"] == [real]
    assert order(home, trial).status == "pending" and order(home, trial).retailer_order_id is None
    assert [line["sku"] for line in home.store.lines_of(booking[0]["retailer_order_id"])] == [TIDE]


def test_send_together_is_a_household_setting_off_by_default(home):
    from replenish.services.handlers import update_limits
    assert update_limits(commands.UpdateLimits("h1"), home.deps)["send_together"] is False
    assert home.bus.handle(commands.UpdateLimits("h1", send_together=True))["send_together"] is True


def test_the_household_turns_send_together_on_through_the_api_and_a_bad_value_changes_nothing(home):
    from replenish.web import create_app
    client = create_app(home).test_client()
    headers = {"Authorization": f"Bearer {home.bus.handle(commands.IssueToken('h1'))}"}
    assert client.get("/v1/household", headers=headers).get_json()["limits"]["send_together"] is False
    bad = client.patch("/v1/household/limits", json={"send_together": "yes"}, headers=headers)
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "send_together"
    assert client.get("/v1/household", headers=headers).get_json()["limits"]["send_together"] is False
    assert client.patch("/v1/household/limits", json={"send_together": True}, headers=headers).status_code == 200
    assert client.get("/v1/household", headers=headers).get_json()["limits"]["send_together"] is True


def test_a_backlog_goes_as_retailer_orders_of_at_most_ten_orders(home, clock):
    ids = [place(home, TIDE if i % 2 else CHARMIN) for i in range(12)]
    handle_events(home)
    clock.advance(seconds=606)
    event_handlers.submit_due(home.deps)
    bookings = sorted(home.store.bookings(), key=lambda b: -len(b["order_ids"]))
    assert [len(b["order_ids"]) for b in bookings] == [merging.MAX_ORDERS, 2]
    assert sorted(o for b in bookings for o in b["order_ids"]) == sorted(ids)
    assert {order(home, o).status for o in ids} == {"submitted"}
    assert saved(home) == 9 + 1


def test_an_order_tried_alone_whose_reply_was_lost_never_joins_a_group_under_another_key(make_container, settings,
                                                                                        clock):
    """Found by the flaky bench: an order tried alone (its own id the key, reply lost) and a fresh order of the
    same household due before its next try must not go as one retailer order keyed by the fresh one: the store
    would book the first order a second time."""
    home, gateway = losing(make_container, settings, losses=1)
    tried = place(home, TIDE)
    handle_events(home)
    clock.advance(seconds=606)
    event_handlers.submit_due(home.deps)  # booked alone under its own id; the reply was lost
    assert order(home, tried).submit_attempts == 1
    home.bus.handle(commands.UpdateLimits("h1", cancel_windows={"web": 0}))
    fresh = place(home, CHARMIN)  # due now: before the first order's next try
    home.deps.queue.events.clear()  # left to the sweep, with the first
    clock.advance(seconds=10)
    event_handlers.submit_due(home.deps)
    assert order(home, tried).status == order(home, fresh).status == "submitted"
    assert sorted(len(b["order_ids"]) for b in gateway.store.bookings()) == [1, 1]  # each booked once


def test_a_product_the_store_refuses_fails_only_its_own_order_not_the_others_of_the_delivery(home, clock):
    home.store.out_of_stock.add(CHARMIN)
    fine, gone = place(home, TIDE), place(home, CHARMIN)
    handle_events(home)
    clock.advance(seconds=606)
    event_handlers.submit_due(home.deps)
    assert order(home, fine).status == "submitted" and order(home, gone).status == "failed"
    assert [b["order_ids"] for b in home.store.bookings()] == [[fine]]
    assert saved(home) == 0


def test_a_group_booked_before_its_product_ran_out_is_answered_with_its_booking_not_sent_again_alone(
        make_container, settings, clock):
    """The store booked the group, the reply was lost, and then one of its products ran out: a key seen before is
    answered with its booking (not refused), so no order of the group is sent again alone under its own id."""
    home, gateway = losing(make_container, settings, losses=1)
    first, second = place(home, TIDE), place(home, CHARMIN)
    handle_events(home)
    clock.advance(seconds=606)
    event_handlers.submit_due(home.deps)  # booked, reply lost
    gateway.store.out_of_stock.add(CHARMIN)
    clock.advance(seconds=5)
    event_handlers.submit_due(home.deps)
    assert order(home, first).status == order(home, second).status == "submitted"
    assert [b["order_ids"] for b in gateway.store.bookings()] == [[first, second]]
