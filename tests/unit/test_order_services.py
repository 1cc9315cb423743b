"""The order use cases through the bus, on SQLite, with a simulated store and a hand-moved clock."""
from datetime import timedelta

import pytest

from replenish.domain import commands
from replenish.domain.commands import LineRequest
from replenish.domain.errors import (
    IllegalTransition,
    InvalidCommand,
    LimitExceeded,
    NotFound,
    PinLocked,
    ProductUnavailable,
    UnknownProduct,
)
from replenish.services import event_handlers
from replenish.web.dashboard_format import image_url


def place(container, sku="TIDE-PODS-42", qty=1, **kw):
    kw.setdefault("channel", "button")
    return container.bus.handle(commands.PlaceOrder("h1", lines=(LineRequest(sku, qty),), **kw))


def run_events(container):
    """Plays the worker: handles every event the queue was given, until none are left."""
    queue = container.deps.queue
    while queue.events:
        container.bus.handle_event(queue.events.pop(0))


def test_placed_order_waits_out_the_cancel_window_then_reaches_the_store_once(container, clock):
    result = place(container, source_id="btn-1")
    assert result.status == "order_placed"
    order_id = result.order_id
    assert result.order["status"] == "pending"
    run_events(container)
    with container.uow() as uow:
        assert uow.orders.get(order_id).status == "pending"  # held for the cancel window
    assert container.bus.handle(commands.SubmitOrder(order_id)) == "not_due"
    clock.advance(minutes=16)  # the button window is 15 minutes
    assert container.bus.handle(commands.SubmitOrder(order_id)) == "submitted"
    assert container.bus.handle(commands.SubmitOrder(order_id)) == "submitted"  # a duplicate message
    assert container.store.attempts_by_key() == {order_id: 1}


def test_tracking_walks_to_delivered_records_history_and_notifies(container, clock):
    order_id = place(container).order_id
    clock.advance(minutes=16)
    container.bus.handle(commands.SubmitOrder(order_id))
    clock.advance(hours=3)  # past the simulated delivery delay
    assert container.bus.handle(commands.TrackOrder(order_id)) == "delivered"
    run_events(container)
    with container.uow() as uow:
        order = uow.orders.get(order_id)
        assert image_url(order.delivery_photo_url).startswith("data:image/svg+xml")  # shown without a store online
        history = uow.purchases.for_household("h1")
        assert [(p.sku, p.quantity) for p in history] == [("TIDE-PODS-42", 1)]
        kinds = [n.kind for n in uow.notifications.for_household("h1")]
        timeline = [row.event_type for row in uow.outbox.timeline(order_id)]
    assert timeline == ["OrderPlaced", "OrderSubmitted", "OrderConfirmed", "OrderShipped", "OrderDelivered"]
    assert {"OrderPlaced", "OrderShipped", "OrderDelivered"} <= set(kinds)


def test_one_order_in_flight_per_source(container, clock):
    first = place(container, source_id="btn-1")
    second = place(container, source_id="btn-1")
    assert second.status == "order_in_progress" and second.order_id == first.order_id
    other = place(container, source_id="btn-2")
    assert other.status == "order_placed" and other.order_id != first.order_id
    container.bus.handle(commands.CancelOrder("h1", first.order_id))
    again = place(container, source_id="btn-1")
    assert again.status == "order_placed" and again.order_id != first.order_id


def test_database_refuses_a_second_in_flight_order_even_without_the_check(container, clock):
    from replenish.domain.errors import DuplicateEntry
    from replenish.domain.model import Order, OrderLine
    place(container, source_id="btn-1")
    with pytest.raises(DuplicateEntry), container.uow() as uow:  # the unit of work says it as a domain conflict
        uow.orders.add(Order("h1", "button", [OrderLine("TIDE-PODS-42", 1, 1299)], source_id="btn-1",
                             now=clock()))
        uow.commit()


def test_idempotency_key_replays_the_same_order(container):
    first = place(container, channel="web", idempotency_key="abc")
    again = place(container, channel="web", idempotency_key="abc")
    assert again.replayed and again.order_id == first.order_id
    with container.uow() as uow:
        assert len(uow.orders.list("h1")) == 1


def test_spending_limits_are_explained(container):
    with pytest.raises(LimitExceeded) as exc:
        place(container, sku="TV-65")
    assert "$999.00" in exc.value.message and "$200.00" in exc.value.message
    container.bus.handle(commands.UpdateLimits("h1", per_order_cap_cents=100000, per_month_cap_cents=3000))
    place(container, sku="TIDE-PODS-81")  # $22.99 of the $30 month
    with pytest.raises(LimitExceeded) as exc:
        place(container, sku="TIDE-PODS-42", channel="web")
    assert "monthly limit" in exc.value.message


def test_unknown_and_unavailable_products(container):
    with pytest.raises(UnknownProduct):
        place(container, sku="NOPE")
    with pytest.raises(ProductUnavailable):
        place(container, sku="BRITA-FILTER-3")
    with pytest.raises(NotFound):
        container.bus.handle(commands.PlaceOrder("nobody", "web", (LineRequest("TIDE-PODS-42"),)))


def test_out_of_stock_at_the_store_fails_the_order_with_a_reason(make_container, settings, clock):
    settings.sim_out_of_stock = ("CHARMIN-12",)
    container = make_container()
    order_id = place(container, sku="CHARMIN-12").order_id
    clock.advance(hours=1)
    assert container.bus.handle(commands.SubmitOrder(order_id)) == "failed"
    with container.uow() as uow:
        assert "out of stock" in uow.orders.get(order_id).failure_reason


def test_cancel_pending_submitted_and_not_after_shipping(container, clock):
    pending = place(container, source_id="a").order_id
    assert container.bus.handle(commands.CancelOrder("h1", pending))["status"] == "cancelled"
    submitted = place(container, source_id="b").order_id
    clock.advance(minutes=16)
    container.bus.handle(commands.SubmitOrder(submitted))
    assert container.bus.handle(commands.CancelOrder("h1", submitted))["status"] == "cancelled"
    shipped = place(container, source_id="c").order_id
    clock.advance(minutes=16)
    container.bus.handle(commands.SubmitOrder(shipped))
    clock.advance(hours=1, minutes=1)
    container.bus.handle(commands.TrackOrder(shipped))
    with pytest.raises(IllegalTransition):
        container.bus.handle(commands.CancelOrder("h1", shipped))
    with pytest.raises(NotFound):
        container.bus.handle(commands.CancelOrder("someone-else", shipped))


def test_outbox_relay_sends_what_was_never_handed_over(container, clock):
    def broken(ids):
        raise ConnectionError("broker down")
    container.deps.queue.handle_event = broken  # the broker is down at commit time
    place(container)
    with container.uow() as uow:
        assert len(uow.outbox.unhandled(clock())) == 1
    from tests.doubles import RecordingQueue
    container.deps.queue = RecordingQueue()
    assert event_handlers.relay_outbox(container.deps) == 0  # within the grace period: maybe still on its way
    clock.advance(seconds=31)
    assert event_handlers.relay_outbox(container.deps) == 1
    assert len(container.deps.queue.events) == 1
    assert event_handlers.relay_outbox(container.deps) == 0  # handed over again only after another grace period
    clock.advance(seconds=31)
    assert event_handlers.relay_outbox(container.deps) == 1
    container.bus.handle_event(container.deps.queue.events[0])
    clock.advance(seconds=31)
    assert event_handlers.relay_outbox(container.deps) == 0  # handled: never again


def test_event_handled_once_even_if_delivered_twice(container):
    place(container)
    event_id = container.deps.queue.events[0]
    assert container.bus.handle_event(event_id) == "handled"
    assert container.bus.handle_event(event_id) == "already_handled"
    with container.uow() as uow:
        assert len([n for n in uow.notifications.for_household("h1") if n.kind == "OrderPlaced"]) == 1


def test_due_sweep_and_tracking_sweep(container, clock):
    order_id = place(container).order_id
    assert event_handlers.submit_due(container.deps) == 0
    clock.advance(minutes=16)
    assert event_handlers.submit_due(container.deps) == 1
    container.bus.handle(commands.SubmitOrder(order_id))
    clock.advance(minutes=1)
    assert event_handlers.track_in_transit(container.deps) == 1


def test_voice_pin_lockout_through_the_bus(container, clock):
    container.bus.handle(commands.SetVoicePin("h1", "1234"))
    assert container.bus.handle(commands.CheckVoicePin("h1", "1234"))
    assert not container.bus.handle(commands.CheckVoicePin("h1", "0000"))
    assert not container.bus.handle(commands.CheckVoicePin("h1", "0001"))
    with pytest.raises(PinLocked):
        container.bus.handle(commands.CheckVoicePin("h1", "0002"))
    with pytest.raises(PinLocked):
        container.bus.handle(commands.CheckVoicePin("h1", "1234"))
    clock.advance(minutes=16)
    assert container.bus.handle(commands.CheckVoicePin("h1", "1234"))


def test_order_without_cancel_window_is_submitted_when_its_event_is_handled(container):
    container.bus.handle(commands.UpdateLimits("h1", cancel_windows={"web": 0}))
    order_id = place(container, channel="web").order_id
    assert len(container.deps.queue.events) == 1  # OrderPlaced: notifications and submission consume it
    run_events(container)
    with container.uow() as uow:
        assert uow.orders.get(order_id).status == "submitted"
        # OrderSubmitted has no consumer: it is on the timeline but was never sent to a worker.
        assert [r.event_type for r in uow.outbox.timeline(order_id)] == ["OrderPlaced", "OrderSubmitted"]
    assert container.deps.queue.events == []
    assert container.store.attempts_by_key() == {order_id: 1}


def test_store_down_at_submission_puts_the_order_back_with_a_due_time(make_container, settings, clock):
    """Nothing waits for the store in the worker and no retrying task is queued: the order is due again later
    (tests/unit/test_submit_retries.py follows it to the end)."""
    from replenish.services.ports import TransientError

    class DownStore:
        def submit(self, request):
            raise TransientError("connection refused")

    container = make_container(gateway=DownStore())
    container.bus.handle(commands.UpdateLimits("h1", cancel_windows={"web": 0}))
    order_id = place(container, channel="web").order_id
    run_events(container)
    assert container.deps.queue.submissions == []
    with container.uow() as uow:
        order = uow.orders.get(order_id)
        assert order.status == "pending" and order.submit_attempts == 1
        assert clock() + timedelta(seconds=0.5) <= order.submit_after <= clock() + timedelta(seconds=1)


def test_notification_choices_decide_the_outside_channels_but_the_feed_gets_everything(make_container, clock):
    from replenish.services.ports import Message

    class Recorder:
        def __init__(self, channel):
            self.channel, self.sent = channel, []

        def send(self, message: Message):
            self.sent.append(message.kind)

    sns, alexa = Recorder("sns"), Recorder("alexa")
    container = make_container(notifiers=[sns, alexa])
    with pytest.raises(InvalidCommand):
        container.bus.handle(commands.SetNotificationPrefs("h1", {"email": True}, {}, email=""))
    container.bus.handle(commands.SetNotificationPrefs(
        "h1", {"email": True, "sms": False, "alexa": False}, {"placed": False}, email="sam@example.com"))
    order_id = place(container).order_id
    container.bus.handle(commands.CancelOrder("h1", order_id))
    run_events(container)
    assert sns.sent == ["OrderCancelled"] and alexa.sent == []  # no "placed" news; Alexa switched off
    with container.uow() as uow:
        feed = {n.kind for n in uow.notifications.for_household("h1") if n.channel == "feed"}
    assert feed == {"OrderPlaced", "OrderCancelled"}


def _three_wrong(container):
    for pin in ("0000", "0001"):
        assert not container.bus.handle(commands.CheckVoicePin("h1", pin))
    with pytest.raises(PinLocked) as locked:
        container.bus.handle(commands.CheckVoicePin("h1", "0002"))
    return locked.value.message


def test_voice_pin_lockouts_escalate_and_the_household_is_told_each_time(container, clock):
    container.bus.handle(commands.SetVoicePin("h1", "1234"))
    assert "15 minutes" in _three_wrong(container)
    clock.advance(minutes=16)
    assert "an hour" in _three_wrong(container)
    clock.advance(minutes=59)
    with pytest.raises(PinLocked):  # still inside the hour
        container.bus.handle(commands.CheckVoicePin("h1", "1234"))
    clock.advance(minutes=2)
    assert "a day" in _three_wrong(container)
    clock.advance(hours=24, minutes=1)
    assert "a day" in _three_wrong(container)  # a day stays the longest
    clock.advance(hours=24, minutes=1)
    assert container.bus.handle(commands.CheckVoicePin("h1", "1234"))  # the right code starts over
    assert "15 minutes" in _three_wrong(container)
    queue = container.deps.queue
    while queue.events:
        container.bus.handle_event(queue.events.pop(0))
    with container.uow() as uow:
        notices = [n.message for n in uow.notifications.for_household("h1")
                   if n.kind == "VoicePinLocked" and n.channel == "feed"]
    assert len(notices) == 5
    assert sum("15 minutes" in n for n in notices) == 2 and sum("an hour" in n for n in notices) == 1
    assert all("change the PIN in Settings" in n for n in notices)


def test_lines_of_one_product_are_added_up_and_the_quantity_rule_applies_to_the_total(container):
    with pytest.raises(InvalidCommand) as too_many:
        container.bus.handle(commands.PlaceOrder("h1", "web", (LineRequest("TIDE-PODS-42", 60),
                                                               LineRequest("TIDE-PODS-42", 60))))
    assert too_many.value.field == "quantity" and "120" in too_many.value.message
    placed = container.bus.handle(commands.PlaceOrder("h1", "web", (LineRequest("TIDE-PODS-42", 1),
                                                                    LineRequest("TIDE-PODS-42", 2))))
    assert [(line["sku"], line["quantity"]) for line in placed.order["lines"]] == [("TIDE-PODS-42", 3)]
    with container.uow() as uow:
        assert uow.orders.list("h1")[0].lines[0].quantity == 3


def test_an_order_holds_at_most_twenty_five_products(container):
    from tests.conftest import PRODUCTS
    skus = [p.sku for p in PRODUCTS]
    lines = tuple(LineRequest(skus[i % len(skus)] + ("" if i < len(skus) else f"-{i}"), 1) for i in range(26))
    with pytest.raises(InvalidCommand) as refused:
        container.bus.handle(commands.PlaceOrder("h1", "web", lines))
    assert refused.value.field == "lines"
    with container.uow() as uow:
        assert uow.orders.list("h1") == []
