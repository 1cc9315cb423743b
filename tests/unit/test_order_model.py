from datetime import UTC, datetime, timedelta

import pytest

from replenish.domain import events
from replenish.domain.errors import IllegalTransition, InvalidCommand
from replenish.domain.model import Limits, Order, OrderLine, OrderStatus

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def make_order(**kw):
    return Order("h1", "button", [OrderLine("SKU", 2, 500, "Thing")], source_id="btn-1", now=NOW,
                 cancel_window=timedelta(minutes=15), **kw)


def test_new_order_is_pending_with_cancel_window_and_placed_event():
    order = make_order()
    assert order.status == "pending"
    assert order.submit_after == NOW + timedelta(minutes=15)
    assert order.total_cents == 1000
    assert [type(e) for e in order.events] == [events.OrderPlaced]
    assert order.active_key == "h1:btn-1"


def test_forward_path_records_each_step_and_clears_in_flight_key_at_the_end():
    order = make_order()
    order.mark_submitted("R1", NOW)
    assert order.advance_to(OrderStatus.DELIVERED, NOW, photo_url="http://p/1.jpg")
    names = [e.name for e in order.events]
    assert names == ["OrderPlaced", "OrderSubmitted", "OrderConfirmed", "OrderShipped", "OrderDelivered"]
    assert order.active_key is None
    assert order.delivery_photo_url == "http://p/1.jpg"
    assert not order.advance_to(OrderStatus.SHIPPED, NOW)  # never backwards


@pytest.mark.parametrize("path", [["ship"], ["deliver"], ["mark_submitted", "ship"]])
def test_illegal_transitions_are_refused(path):
    order = make_order()
    with pytest.raises(IllegalTransition):
        for step in path:
            if step == "mark_submitted":
                order.mark_submitted("R1", NOW)
            else:
                getattr(order, step)(NOW)


def test_cancel_allowed_until_shipped():
    order = make_order()
    order.mark_submitted("R1", NOW)
    order.confirm(NOW)
    order.cancel(NOW)
    assert order.status == "cancelled" and order.active_key is None
    shipped = make_order()
    shipped.mark_submitted("R1", NOW)
    shipped.confirm(NOW)
    shipped.ship(NOW)
    with pytest.raises(IllegalTransition):
        shipped.cancel(NOW)


def test_non_exclusive_source_has_no_in_flight_key():
    assert make_order(exclusive_source=False).active_key is None


def test_quantity_must_be_positive():
    with pytest.raises(InvalidCommand):
        OrderLine("SKU", 0, 100)


def test_pin_three_wrong_codes_lock_for_fifteen_minutes():
    limits = Limits("h1")
    limits.set_pin("1234")
    assert not limits.check_pin("0000", NOW)
    assert not limits.check_pin("1111", NOW)
    assert not limits.pin_locked(NOW)
    assert not limits.check_pin("2222", NOW)
    assert limits.pin_locked(NOW)
    assert not limits.check_pin("1234", NOW + timedelta(minutes=14))  # even the right code, while locked
    assert limits.check_pin("1234", NOW + timedelta(minutes=16))


def test_pin_must_be_four_digits_and_is_not_stored_in_clear():
    limits = Limits("h1")
    with pytest.raises(InvalidCommand):
        limits.set_pin("12a4")
    limits.set_pin("4321")
    assert "4321" not in limits.voice_pin_hash
