"""The slot replenishment policy: pure domain rules, then through the bus on SQLite."""
from datetime import UTC, datetime, timedelta

import pytest

from replenish.config import Settings
from replenish.devices.domain import commands as dc
from replenish.devices.domain.model import Slot
from replenish.domain.errors import InvalidCommand

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def make_slot(**kw):
    kw = {"products": ["TIDE-PODS-42"], "capacity": 100, "unit": "count", "threshold": 20, "target": 90, **kw}
    return Slot("d1", "tank", **kw)


def test_orders_when_the_level_stays_below_the_threshold_with_whole_packs_to_the_target():
    slot = make_slot()
    slot.report(T0, 60)
    assert slot.decide(T0, pack_size=42).action == "none"
    slot.report(T0 + timedelta(days=30), 19)  # one low reading could be noise (debounce 2)
    assert slot.decide(T0 + timedelta(days=30), pack_size=42).action == "none"
    slot.report(T0 + timedelta(days=31), 18)
    decision = slot.decide(T0 + timedelta(days=31), pack_size=42)
    assert decision.action == "order" and decision.reason == "threshold"
    assert decision.packs == 2  # 90 - 18 = 72 units -> two packs of 42


def test_orders_early_when_the_trend_runs_out_inside_the_lead_time():
    slot = make_slot()
    for day, level in enumerate([80, 70, 60, 50, 40]):  # 10 a day
        slot.report(T0 + timedelta(days=day), level)
    now = T0 + timedelta(days=4)
    assert slot.usage_per_day() == pytest.approx(10)
    assert slot.decide(now, 42, lead_time=timedelta(days=2)).action == "none"  # 4 days left
    decision = slot.decide(now, 42, lead_time=timedelta(days=5))
    assert decision.action == "order" and decision.reason == "predicted_runout"
    assert decision.runout_at == T0 + timedelta(days=8)


def test_recommender_timing_is_used_only_without_a_level():
    slot = make_slot()
    soon = T0 + timedelta(days=1)
    assert slot.decide(T0, 42, timedelta(days=2), expected_purchase_at=soon).reason == "repurchase_timing"
    assert slot.decide(T0, 42, timedelta(days=2), expected_purchase_at=T0 + timedelta(days=9)).action == "none"
    slot.report(T0, 50)  # a live level above the threshold: history timing no longer orders
    assert slot.decide(T0, 42, timedelta(days=2), expected_purchase_at=soon).action == "none"


def test_refill_restarts_the_trend_and_repeats_are_recognised():
    slot = make_slot()
    assert slot.report(T0, 50, last_use=T0) is True
    assert slot.report(T0 + timedelta(minutes=1), 50, last_use=T0) is False  # same report again
    slot.report(T0 + timedelta(days=1), 40)
    slot.report(T0 + timedelta(days=2), 100)  # refilled
    assert [r.level for r in slot.readings()] == [100]


def test_history_keeps_the_last_twenty_levels_in_time_order_whatever_order_reports_arrive_in():
    slot = make_slot()
    for hour in range(25):
        slot.report(T0 + timedelta(hours=hour), 100 - hour, last_use=T0 + timedelta(hours=hour))
    assert [r.level for r in slot.readings()] == [100 - h for h in range(5, 25)]
    # a report that arrived late goes in its place; the oldest drops out
    slot.report(T0 + timedelta(hours=30), 70, last_use=T0 + timedelta(hours=23, minutes=30))
    assert [r.at for r in slot.readings()] == sorted(r.at for r in slot.readings())
    assert 70 in [r.level for r in slot.readings()] and len(slot.readings()) == 20
    # what is stored reads back the same in a new process (history is plain JSON)
    copy = make_slot()
    copy.history = [list(entry) for entry in slot.history]
    assert copy.readings() == slot.readings()
    assert copy.usage_per_day() == pytest.approx(slot.usage_per_day())


def test_a_late_report_joins_the_trend_but_does_not_set_the_level():
    slot = make_slot()
    for day, level in enumerate([80, 70, 60]):
        slot.report(T0 + timedelta(days=day, hours=1), level, last_use=T0 + timedelta(days=day))
    # the reading of day 1.5 arrives after day 2's, with a higher level: not a refill, not the current level
    assert slot.report(T0 + timedelta(days=3), 65, last_use=T0 + timedelta(days=1, hours=12)) is True
    assert slot.remaining == 60 and slot.last_use_at == T0 + timedelta(days=2)
    assert [r.level for r in slot.readings()] == [80, 70, 65, 60]
    assert slot.report(T0 + timedelta(days=3), 65, last_use=T0 + timedelta(days=1, hours=12)) is False  # again
    assert len(slot.readings()) == 4


def test_unreadable_history_entries_are_skipped_and_not_kept():
    slot = make_slot()
    slot.history = [["not a time", 5], [T0.isoformat(), 60], "junk", [(T0 + timedelta(days=1)).isoformat(), 50]]
    assert [r.level for r in slot.readings()] == [60, 50]
    slot.report(T0 + timedelta(days=2), 40, last_use=T0 + timedelta(days=2))
    assert [level for _, level in slot.history] == [60, 50, 40]
    assert slot.usage_per_day() == pytest.approx(10)


def test_notify_only_mode_notifies_instead_of_ordering():
    slot = make_slot(mode="notify")
    slot.report(T0, 5)
    slot.report(T0 + timedelta(hours=1), 4)
    assert slot.decide(T0 + timedelta(hours=1), 42).action == "notify"


def test_slot_rejects_nonsense():
    with pytest.raises(InvalidCommand):
        make_slot(threshold=95, target=90)
    with pytest.raises(InvalidCommand):
        make_slot(products=[])
    with pytest.raises(InvalidCommand):
        make_slot().report(T0, -1)


# -- through the bus ---------------------------------------------------------------------------------------

def setup_device(container, mode="auto", debounce=2):
    partner = container.bus.handle(dc.CreatePartner("Acme Appliances", "https://partner.example/hooks"))
    code = container.bus.handle(dc.CreateLinkCode("h1"))["code"]
    device = container.bus.handle(dc.RegisterDevice(partner["partner_id"], code, "WM-0001", "washer", (
        dc.SlotSpec("detergent", ("TIDE-PODS-42", "TIDE-PODS-81"), 84, "count", 20, 84, mode,
                    debounce=debounce),)))
    return partner, device


def drain(container):
    queue = container.deps.queue
    while queue.events:
        container.bus.handle_event(queue.events.pop(0))


def report(container, partner, device, level, **kw):
    return container.bus.handle(dc.ReportSlotStatus(partner["partner_id"], device["device_id"], "detergent",
                                                    level, **kw))


def test_slot_report_below_threshold_places_one_order_then_reports_in_progress(container, clock):
    partner, device = setup_device(container)
    assert report(container, partner, device, 60)["order"] is None
    noise = report(container, partner, device, 11)  # one low reading could be noise (debounce 2)
    assert noise["decision"]["action"] == "none" and noise["order"] is None
    first = report(container, partner, device, 10)
    assert first["order"]["status"] == "order_placed"
    again = report(container, partner, device, 10)
    assert again["fresh"] is False and again["order"] == {"status": "order_in_progress",
                                                          "order_id": first["order"]["order_id"]}
    with container.uow() as uow:
        order = uow.orders.get(first["order"]["order_id"])
        assert order.source_id == f"slot:{device['device_id']}:detergent" and order.channel == "appliance"
        assert [(line.sku, line.quantity) for line in order.lines] == [("TIDE-PODS-42", 2)]  # 84 - 10 = 74 -> 2 x 42


@pytest.mark.parametrize("lead_days, ordered", [("2", False), ("6", True)])
def test_the_delivery_lead_time_setting_decides_how_early_a_falling_level_is_reordered(
        container, clock, monkeypatch, lead_days, ordered):
    monkeypatch.setattr(container.settings, "delivery_lead_days",
                        Settings.from_env({"REPLENISH_LEAD_DAYS": lead_days}).delivery_lead_days)
    partner, device = setup_device(container)
    for level in (80, 70, 60, 50):  # 10 a day: runs out 5 days after the last reading
        answer = report(container, partner, device, level)
        clock.advance(days=1)
    assert (answer["decision"]["action"] == "order") is ordered
    assert (answer["order"] is not None) is ordered


def test_notify_only_slot_tells_the_household_once(container, clock):
    partner, device = setup_device(container, mode="notify", debounce=1)
    assert report(container, partner, device, 10)["decision"]["action"] == "notify"
    clock.advance(hours=1)
    assert report(container, partner, device, 8)["decision"]["action"] == "notify"
    drain(container)
    with container.uow() as uow:
        kinds = [n.kind for n in uow.notifications.for_household("h1")]
        assert uow.orders.list("h1") == []
    assert kinds.count("SlotRunningLow") == 1


def test_spend_limit_on_an_automatic_order_is_answered_calmly_and_notified(container, clock):
    container.bus.handle(__import__("replenish.domain.commands", fromlist=["x"]).UpdateLimits(
        "h1", per_order_cap_cents=100))
    partner, device = setup_device(container, debounce=1)
    body = report(container, partner, device, 5)
    assert body["order"]["status"] == "not_placed" and body["order"]["code"] == "limit_exceeded"
    drain(container)
    with container.uow() as uow:
        assert uow.orders.list("h1") == []
        told = [n.message for n in uow.notifications.for_household("h1") if n.kind == "SlotOrderRefused"]
    assert told and all("washer" in text and "Tide PODS Laundry Detergent, 42 Count" in text for text in told)
