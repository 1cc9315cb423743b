"""The slot policy as a user would notice it: when it orders, when it refuses, how much it orders (pure domain)."""
import math
from datetime import UTC, datetime, timedelta

import pytest

from replenish.devices.domain.slots import (
    DEFAULT_DEBOUNCE,
    Slot,
    canonical_unit,
    convert,
)
from replenish.domain.errors import InvalidCommand

T0 = datetime(2026, 3, 1, tzinfo=UTC)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)


def make_slot(**kw):
    kw = {"products": ["TIDE-PODS-42"], "capacity": 100, "unit": "count", "threshold": 20, "target": 90, **kw}
    return Slot("d1", "tank", **kw)


def state(slot):
    """Everything a slot stores (its columns and its history), to check that a refused report changed nothing."""
    return {k: (list(map(list, v)) if k == "history" else v) for k, v in vars(slot).items() if not k.startswith("_")}


def reloaded(slot):
    """The slot as the ORM would load it: attributes from the columns, ``__init__`` skipped (through the class's
    instrumentation when another test has mapped it, as the ORM's loader does)."""
    from sqlalchemy.orm.instrumentation import manager_of_class
    manager = manager_of_class(Slot)
    copy = manager.new_instance() if manager is not None else object.__new__(Slot)
    copy.__dict__.update(state(slot))
    return copy


# -- history timing never overrules a live level ----------------------------------------------------------

def test_a_nearly_full_tank_never_orders_on_history_timing():
    slot = make_slot(capacity=81, threshold=None, target=None)
    slot.report(T0, 70)
    decision = slot.decide(T0, 42, timedelta(days=2), expected_purchase_at=T0 - DAY)  # "overdue" by history
    assert (decision.action, decision.reason, decision.packs) == ("none", "level fine", 0)


def test_history_timing_does_not_order_while_the_level_is_flat_either():
    slot = make_slot()
    for hour in range(3):
        slot.report(T0 + hour * HOUR, 60, last_use=T0 + hour * HOUR)
    assert slot.decide(T0 + 3 * HOUR, 42, expected_purchase_at=T0).action == "none"


def test_without_any_level_history_timing_orders_one_pack():
    slot = make_slot()
    soon, later = T0 + DAY, T0 + 9 * DAY
    decision = slot.decide(T0, 42, timedelta(days=2), expected_purchase_at=soon)
    assert (decision.action, decision.reason, decision.packs) == ("order", "repurchase_timing", 1)
    assert slot.decide(T0, 42, timedelta(days=2), expected_purchase_at=later) == \
        slot.decide(T0, 42, timedelta(days=2))
    assert slot.decide(T0, 42).reason == "no level reported yet"
    assert make_slot(mode="notify").decide(T0, 42, expected_purchase_at=soon).action == "notify"


def test_a_falling_trend_orders_inside_the_lead_time_whatever_history_says():
    slot = make_slot()
    for day, level in enumerate([80, 70, 60, 50, 40]):  # 10 a day: empty on day 8
        slot.report(T0 + day * DAY, level)
    now = T0 + 4 * DAY
    far = now + 30 * DAY
    assert slot.decide(now, 42, timedelta(days=2), expected_purchase_at=far).action == "none"
    decision = slot.decide(now, 42, timedelta(days=5), expected_purchase_at=far)
    assert (decision.action, decision.reason, decision.runout_at) == ("order", "predicted_runout", T0 + 8 * DAY)
    assert decision.packs == 2  # 90 - 40 = 50 -> two packs of 42


# -- impossible readings are refused and change nothing -----------------------------------------------------

def test_an_81_capacity_slot_refuses_remaining_5000_and_keeps_its_level():
    slot = make_slot(capacity=81, threshold=16, target=81)
    slot.report(T0, 10)
    before = state(slot)
    with pytest.raises(InvalidCommand) as refused:
        slot.report(T0 + HOUR, 5000)
    assert refused.value.field == "remainingQuantityInUnit"
    assert state(slot) == before
    assert slot.remaining == 10 and slot.low_streak == 1
    assert slot.decide(T0 + HOUR, 42).action == "none"  # the refused report did not count as a 2nd low reading


@pytest.mark.parametrize("args, kwargs, field", [
    ((-1,), {}, "remainingQuantityInUnit"),
    ((100.5,), {}, "remainingQuantityInUnit"),
    ((float("nan"),), {}, "remainingQuantityInUnit"),
    ((float("inf"),), {}, "remainingQuantityInUnit"),
    (("ten",), {}, "remainingQuantityInUnit"),
    ((True,), {}, "remainingQuantityInUnit"),
    ((30, 20), {}, "remainingQuantityInUnit"),  # more left than the container held
    ((0, 0), {}, "originalQuantityInUnit"),
    ((10, 150), {}, "originalQuantityInUnit"),  # a container larger than the slot
    ((10, float("nan")), {}, "originalQuantityInUnit"),
    ((10,), {"on_hand": -3}, "totalQuantityOnHand"),
    ((10,), {"on_hand": float("inf")}, "totalQuantityOnHand"),
    ((10,), {"last_use": T0 + timedelta(minutes=6)}, "lastUseDate"),
    ((10,), {"last_use": "yesterday"}, "lastUseDate"),
    ((10,), {"unit": "furlong"}, "unit"),
    ((10,), {"unit": "ml"}, "unit"),  # a count slot cannot take millilitres
    ((150,), {"unit": "%"}, "remainingQuantityInUnit"),
])
def test_impossible_reports_are_refused_naming_the_field_and_change_nothing(args, kwargs, field):
    slot = make_slot()
    slot.report(T0 - DAY, 50, last_use=T0 - DAY)
    before = state(slot)
    with pytest.raises(InvalidCommand) as refused:
        slot.report(T0, *args, **kwargs)
    assert refused.value.field == field
    assert state(slot) == before


def test_a_device_clock_a_little_ahead_is_tolerated():
    slot = make_slot()
    assert slot.report(T0, 50, last_use=T0 + timedelta(minutes=4)) is True
    assert slot.last_use_at == T0 + timedelta(minutes=4)


def test_a_report_within_its_own_original_quantity_is_accepted():
    slot = make_slot()
    assert slot.report(T0, 40, 40) is True
    assert (slot.remaining, slot.original) == (40, 40)


def test_an_unknown_unit_is_answered_with_the_units_we_know():
    with pytest.raises(InvalidCommand) as refused:
        make_slot().report(T0, 10, unit="furlong")
    assert refused.value.field == "unit"
    for known in ("count", "percentage", "ml", "l", "fl_oz", "gal", "g", "kg", "oz", "lb"):
        assert known in refused.value.message


# -- debounce -------------------------------------------------------------------------------------------

def test_orders_on_the_second_low_reading_not_the_first():
    slot = make_slot()
    slot.report(T0, 60)
    slot.report(T0 + 10 * DAY, 19)
    first = slot.decide(T0 + 10 * DAY, 42)
    assert (first.action, first.reason) == ("none", "waiting for 1 more low reading")
    slot.report(T0 + 11 * DAY, 18)
    second = slot.decide(T0 + 11 * DAY, 42)
    assert (second.action, second.reason, second.packs) == ("order", "threshold", 2)  # 90 - 18 = 72


def test_the_threshold_itself_counts_as_low():
    slot = make_slot()
    slot.report(T0, 20)
    slot.report(T0 + DAY, 20, last_use=T0 + DAY)
    assert slot.decide(T0 + DAY, 42).reason == "threshold"


def test_a_rise_that_stays_below_the_threshold_is_still_a_low_reading():
    slot = make_slot()
    slot.report(T0, 19, last_use=T0)
    slot.report(T0 + 10 * DAY, 19.5, last_use=T0 + 10 * DAY)  # a wobbling sensor or a small top-up
    assert [r.level for r in slot.readings()] == [19.5]  # any rise restarts the trend ...
    assert slot.low_streak == 1  # ... and the count, but this reading itself is low
    slot.report(T0 + 20 * DAY, 19, last_use=T0 + 20 * DAY)
    assert slot.decide(T0 + 20 * DAY, 42).reason == "threshold"


def test_one_reading_back_above_the_threshold_starts_the_count_again():
    slot = make_slot()
    slot.report(T0, 60)
    slot.report(T0 + 10 * DAY, 19)
    slot.report(T0 + 11 * DAY, 25)  # a glitch back up: a refill as far as the slot can tell
    slot.report(T0 + 12 * DAY, 19)
    assert slot.low_streak == 1 and slot.decide(T0 + 12 * DAY, 42).action == "none"


def test_a_falling_level_above_the_threshold_resets_the_count():
    slot = make_slot(threshold=50)
    slot.report(T0, 50)
    assert slot.low_streak == 1
    slot.configure(threshold=30)  # counted against the old threshold: starts again
    assert slot.low_streak == 0
    slot.report(T0 + 30 * DAY, 31)
    assert slot.low_streak == 0
    slot.report(T0 + 60 * DAY, 29)
    assert slot.low_streak == 1 and slot.decide(T0 + 60 * DAY, 42).action == "none"


def test_a_redelivered_low_report_is_not_a_second_reading():
    slot = make_slot()
    assert slot.report(T0, 10, last_use=T0) is True
    assert slot.report(T0 + timedelta(minutes=1), 10, last_use=T0) is False
    assert slot.low_streak == 1
    assert slot.decide(T0 + timedelta(minutes=1), 42).action == "none"


def test_a_late_low_report_is_not_a_second_reading():
    slot = make_slot()
    slot.report(T0 + DAY, 10, last_use=T0 + DAY)
    assert slot.report(T0 + 2 * DAY, 12, last_use=T0) is True  # taken before the newest: trend only
    assert slot.remaining == 10 and slot.low_streak == 1
    assert slot.decide(T0 + 2 * DAY, 42, timedelta(hours=1)).action == "none"


def test_an_empty_slot_orders_at_once():
    slot = make_slot()
    slot.report(T0, 0)
    decision = slot.decide(T0, 42)
    assert (decision.action, decision.reason, decision.packs) == ("order", "empty", 3)  # 90 units -> 3 x 42


def test_a_falling_trend_is_not_debounced():
    slot = make_slot()
    slot.report(T0, 60)
    slot.report(T0 + DAY, 19)  # 41 a day: empty in under half a day
    decision = slot.decide(T0 + DAY, 42)
    assert (decision.action, decision.reason) == ("order", "predicted_runout")


def test_a_refill_resets_the_count_and_the_notice():
    slot = make_slot(mode="notify")
    slot.report(T0, 10)
    slot.report(T0 + HOUR, 9)
    assert slot.decide(T0 + HOUR, 42).action == "notify"
    slot.notified_at = T0 + HOUR
    slot.report(T0 + DAY, 100)
    assert slot.low_streak == 0 and slot.notified_at is None
    slot.report(T0 + 30 * DAY, 15)
    assert slot.decide(T0 + 30 * DAY, 42).action == "none"


def test_debounce_is_per_slot():
    drs = make_slot(debounce=3)  # a slow fall: the trend alone would not order for weeks
    for day, level in enumerate([19, 18]):
        drs.report(T0 + day * DAY, level)
    assert drs.decide(T0 + DAY, 42).reason == "waiting for 1 more low reading"
    drs.report(T0 + 2 * DAY, 17)
    assert drs.decide(T0 + 2 * DAY, 42).reason == "threshold"
    eager = make_slot(debounce=1)
    eager.report(T0, 19)
    assert eager.decide(T0, 42).reason == "threshold"
    assert make_slot().debounce == DEFAULT_DEBOUNCE == 2


def test_configure_changes_the_debounce():
    slot = make_slot()
    slot.report(T0, 19)
    slot.configure(debounce=1)
    assert slot.decide(T0, 42).action == "order"
    slot.configure(debounce=3)
    assert slot.decide(T0, 42).reason == "waiting for 2 more low readings"


@pytest.mark.parametrize("debounce", [0, 11, 2.5, -1, True, float("nan"), "2"])
def test_a_debounce_outside_1_to_10_is_refused(debounce):
    with pytest.raises(InvalidCommand) as refused:
        make_slot(debounce=debounce)
    assert refused.value.field == "debounce"
    slot = make_slot()
    with pytest.raises(InvalidCommand):
        slot.configure(debounce=debounce, threshold=10)
    assert (slot.debounce, slot.threshold) == (2, 20)


def test_the_low_count_survives_a_reload_from_the_database():
    slot = make_slot()
    slot.report(T0, 19)
    copy = reloaded(slot)
    copy.report(T0 + DAY, 18)
    assert copy.decide(T0 + DAY, 42).reason == "threshold"


def test_a_row_from_before_debounce_existed_still_decides():
    slot = make_slot()
    slot.report(T0, 19)
    copy = reloaded(slot)
    copy.debounce, copy.low_streak = None, None
    assert copy.decide(T0, 42).reason == "waiting for 2 more low readings"
    copy.report(T0 + DAY, 18)
    copy.report(T0 + 2 * DAY, 17)
    assert copy.decide(T0 + 2 * DAY, 42).reason == "threshold"


# -- usage (consumption) reports ----------------------------------------------------------------------------

def test_consumed_3_pods_lowers_40_to_37_and_keeps_the_trend():
    slot = make_slot()
    slot.report(T0, 40)
    assert slot.consume(T0 + DAY, 3, unit="pods") is True
    assert slot.remaining == 37
    assert [r.level for r in slot.readings()] == [40, 37]
    assert slot.usage_per_day() == pytest.approx(3)


def test_usage_is_converted_to_the_slot_unit():
    slot = make_slot(capacity=2000, unit="ml", threshold=200, target=2000)
    slot.report(T0, 1500)
    slot.consume(T0 + HOUR, 0.25, unit="l")
    assert slot.remaining == pytest.approx(1250)
    slot.consume(T0 + 2 * HOUR, 10, unit="%")  # 10% of 2000 ml
    assert slot.remaining == pytest.approx(1050)


def test_using_more_than_is_left_empties_the_slot_and_orders():
    slot = make_slot()
    slot.report(T0, 5)
    slot.consume(T0 + HOUR, 8)
    assert slot.remaining == 0
    assert slot.decide(T0 + HOUR, 42).reason == "empty"


def test_low_usage_reports_count_towards_the_debounce():
    slot = make_slot()
    slot.report(T0, 22)
    slot.consume(T0 + DAY, 3)
    assert slot.decide(T0 + DAY, 42, timedelta(hours=1)).action == "none"
    slot.consume(T0 + 2 * DAY, 1)
    assert slot.decide(T0 + 2 * DAY, 42, timedelta(hours=1)).reason == "threshold"


def test_usage_without_a_level_asks_for_a_level_first():
    slot = make_slot()
    with pytest.raises(InvalidCommand) as refused:
        slot.consume(T0, 1)
    assert refused.value.field == "consumed" and "absolute level first" in refused.value.message
    assert slot.remaining is None and slot.history == []


@pytest.mark.parametrize("amount, unit, field", [
    (0, None, "consumed"), (-1, None, "consumed"), (float("nan"), None, "consumed"),
    (float("inf"), None, "consumed"), (500, None, "consumed"), (1, "ml", "unit"), (1, "cubits", "unit"),
])
def test_impossible_usage_is_refused_and_changes_nothing(amount, unit, field):
    slot = make_slot()
    slot.report(T0, 40)
    before = state(slot)
    with pytest.raises(InvalidCommand) as refused:
        slot.consume(T0 + HOUR, amount, unit=unit)
    assert refused.value.field == field
    assert state(slot) == before


def test_a_redelivered_usage_report_is_not_counted_twice():
    slot = make_slot()
    slot.report(T0, 40, last_use=T0)
    assert slot.consume(T0 + HOUR, 3, last_use=T0 + HOUR) is True
    assert slot.consume(T0 + 2 * HOUR, 3, last_use=T0 + HOUR) is False
    assert slot.consume(T0 + 2 * HOUR, 3, last_use=T0 + timedelta(minutes=30)) is False  # before the newest
    assert slot.remaining == 37 and len(slot.readings()) == 2


def test_usage_dated_in_the_future_is_refused():
    slot = make_slot()
    slot.report(T0, 40)
    with pytest.raises(InvalidCommand) as refused:
        slot.consume(T0, 1, last_use=T0 + HOUR)
    assert refused.value.field == "lastUseDate" and slot.remaining == 40


# -- how much to order ---------------------------------------------------------------------------------

def test_packs_needed_is_0_at_or_above_the_target():
    slot = make_slot()
    slot.report(T0, 90)
    assert slot.packs_needed(42) == 0
    slot.report(T0 + DAY, 95)
    assert slot.packs_needed(42) == 0


@pytest.mark.parametrize("level, pack_size, packs", [
    (89, 42, 1), (48, 42, 1), (47.5, 42, 2), (6, 42, 2), (5, 42, 3), (0, 42, 3),
    (0, 0, 90), (80, -5, 10), (0, 0.5, 99),
])
def test_packs_needed_is_whole_packs_to_the_target(level, pack_size, packs):
    slot = make_slot()
    slot.report(T0, level)
    assert slot.packs_needed(pack_size) == packs


def test_never_orders_nothing_even_when_the_trend_says_it_runs_out():
    slot = make_slot(threshold=20, target=50)
    slot.report(T0, 100)
    slot.report(T0 + DAY, 60)  # 40 a day: empty inside the lead time, yet above the target
    decision = slot.decide(T0 + DAY, 42)
    assert (decision.action, decision.reason, decision.packs) == ("none", "level at or above target", 0)


def test_notify_mode_notifies_where_auto_would_order():
    slot = make_slot(mode="notify")
    slot.report(T0, 10)
    assert slot.decide(T0, 42).action == "none"
    slot.report(T0 + HOUR, 9)
    decision = slot.decide(T0 + HOUR, 42)
    assert (decision.action, decision.reason, decision.packs) == ("notify", "threshold", 0)


# -- units ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, canonical", [
    ("count", "count"), ("Pods", "count"), ("each", "count"), ("UNITS", "count"),
    ("percent", "percentage"), ("%", "percentage"), ("Percentage", "percentage"),
    ("millilitre", "ml"), ("Milliliter", "ml"), ("Litre", "l"), ("liter", "l"), ("fl_oz", "fl_oz"),
    ("gal", "gal"), ("gram", "g"), ("Kilogram", "kg"), ("pound", "lb"), ("ounce", "oz"), (" KG ", "kg"),
])
def test_unit_names_are_canonicalised(name, canonical):
    assert canonical_unit(name) == canonical


@pytest.mark.parametrize("name", ["furlong", "", "litres per day", None])
def test_unknown_units_are_refused(name):
    with pytest.raises(InvalidCommand) as refused:
        canonical_unit(name)
    assert refused.value.field == "unit"


@pytest.mark.parametrize("amount, source, dest, expected", [
    (2, "l", "ml", 2000), (1, "gal", "ml", 3785.41), (1, "fl_oz", "ml", 29.5735), (3785.41, "ml", "gal", 1),
    (1, "lb", "g", 453.592), (16, "oz", "lb", 16 * 28.3495 / 453.592), (2.5, "kg", "g", 2500),
    (7, "pods", "count", 7), (50, "%", "count", 42),
])
def test_convert(amount, source, dest, expected):
    assert convert(amount, source, dest, 84) == pytest.approx(expected)


@pytest.mark.parametrize("source, dest", [("count", "ml"), ("ml", "count"), ("ml", "g"), ("lb", "l"),
                                          ("ml", "percentage"), ("count", "%")])
def test_convert_refuses_across_dimensions(source, dest):
    with pytest.raises(InvalidCommand) as refused:
        convert(1, source, dest, 100)
    assert refused.value.field == "unit"


def test_a_50_percent_reading_of_an_84_count_slot_is_42():
    slot = make_slot(capacity=84, target=84)
    slot.report(T0, 50, unit="percent")
    assert slot.remaining == 42


def test_a_reading_in_another_volume_unit_is_converted():
    slot = make_slot(capacity=2000, unit="millilitre", threshold=200, target=2000)
    assert slot.unit == "ml"
    slot.report(T0, 1.5, 2, unit="Litre")
    assert (slot.remaining, slot.original) == (pytest.approx(1500), pytest.approx(2000))


def test_a_full_container_in_another_unit_is_not_refused_for_rounding():
    slot = make_slot(capacity=64, unit="fl_oz", threshold=10, target=64)
    slot.report(T0, 64 * 29.5735, unit="ml")
    assert slot.remaining == pytest.approx(64)


def test_a_percentage_slot_takes_percentages_only():
    slot = make_slot(unit="%", capacity=100)
    assert slot.unit == "percentage"
    slot.report(T0, 35, unit="percentage")
    assert slot.remaining == 35
    with pytest.raises(InvalidCommand) as refused:
        slot.report(T0 + HOUR, 300, unit="ml")
    assert refused.value.field == "unit" and slot.remaining == 35


def test_a_weight_slot_refuses_a_volume_reading():
    slot = make_slot(capacity=1, unit="kg", threshold=0.2, target=1)
    with pytest.raises(InvalidCommand) as refused:
        slot.report(T0, 500, unit="ml")
    assert refused.value.field == "unit" and slot.remaining is None
    slot.report(T0, 500, unit="g")
    assert slot.remaining == pytest.approx(0.5)


def test_a_slot_with_an_unknown_unit_cannot_be_registered():
    with pytest.raises(InvalidCommand) as refused:
        make_slot(unit="scoops")
    assert refused.value.field == "unit"


# -- configuration ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, field", [
    ({"threshold": 95}, "threshold"), ({"threshold": -1}, "threshold"), ({"target": 10}, "threshold"),
    ({"target": 1001}, "target"), ({"threshold": float("nan")}, "threshold"), ({"target": math.inf}, "target"),
    ({"mode": "sometimes"}, "mode"), ({"sku": "OTHER"}, "sku"), ({"debounce": 0}, "debounce"),
])
def test_configure_refuses_nonsense_and_changes_nothing(kwargs, field):
    slot = make_slot()
    slot.report(T0, 15)
    before = state(slot)
    with pytest.raises(InvalidCommand) as refused:
        slot.configure(**{"mode": "notify", **kwargs})
    assert refused.value.field == field
    assert state(slot) == before


@pytest.mark.parametrize("kwargs, field", [
    ({"capacity": 0}, "capacity"), ({"capacity": float("nan")}, "capacity"), ({"threshold": float("inf")},
                                                                              "threshold"),
    ({"target": 1001}, "target"), ({"mode": "never"}, "mode"), ({"threshold": 95}, "threshold"),
])
def test_registering_a_nonsense_slot_is_refused(kwargs, field):
    with pytest.raises(InvalidCommand) as refused:
        make_slot(**kwargs)
    assert refused.value.field == field


def test_configure_applies_everything_together():
    slot = make_slot()
    slot.configure(mode="notify", threshold=30, target=80, debounce=4)
    assert (slot.mode, slot.threshold, slot.target, slot.debounce) == ("notify", 30, 80, 4)
