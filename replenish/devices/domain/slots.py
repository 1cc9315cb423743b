"""An appliance's slot (a detergent tank, a filter) and the replenishment policy that its level reports drive.

Pure Python. The policy is built to never order wrong: a live level decides (history timing only stands in when a
device reports no level at all), impossible readings are refused before they touch the slot, one low reading is
not enough to order (debounce), and an order is always for whole packs that the level actually needs.
See docs/slot-policy.md for the rules and the reasons behind them.
"""
from __future__ import annotations

import bisect
import enum
import math
import numbers
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from replenish.domain.errors import InvalidCommand
from replenish.domain.model import MAX_QUANTITY, as_utc, iso


class SlotMode(str, enum.Enum):
    AUTO = "auto"  # order by itself
    NOTIFY = "notify"  # tell the household, order nothing


DEFAULT_LEAD_TIME = timedelta(days=2)
DEFAULT_DEBOUNCE = 2  # low readings in a row before the threshold rule acts
DRS_DEBOUNCE = 3  # what Dash Replenishment through Alexa uses: its sensors are noisier
MAX_DEBOUNCE = 10
CLOCK_SKEW = timedelta(minutes=5)  # how far in the future a device's clock may put a reading
HISTORY_POINTS = 20


@dataclass(frozen=True)
class Reading:
    at: datetime
    level: float


@dataclass(frozen=True)
class Decision:
    action: str  # "order" | "notify" | "none"
    reason: str = ""
    packs: int = 0
    runout_at: datetime | None = None


# -- units ------------------------------------------------------------------------------------------------

COUNT, PERCENTAGE = "count", "percentage"
# unit -> (dimension, size in the dimension's base unit: ml for volume, g for weight)
_UNITS: dict[str, tuple[str, float]] = {
    COUNT: ("count", 1.0),
    PERCENTAGE: ("percentage", 1.0),
    "ml": ("volume", 1.0),
    "l": ("volume", 1000.0),
    "fl_oz": ("volume", 29.5735),
    "gal": ("volume", 3785.41),  # US gallon
    "g": ("weight", 1.0),
    "kg": ("weight", 1000.0),
    "oz": ("weight", 28.3495),
    "lb": ("weight", 453.592),
}
_ALIASES = {
    "percent": PERCENTAGE, "%": PERCENTAGE,
    "millilitre": "ml", "milliliter": "ml", "millilitres": "ml", "milliliters": "ml",
    "litre": "l", "liter": "l", "litres": "l", "liters": "l",
    "fl oz": "fl_oz", "fluid ounce": "fl_oz", "fluid ounces": "fl_oz",
    "gallon": "gal", "gallons": "gal",
    "gram": "g", "grams": "g", "kilogram": "kg", "kilograms": "kg",
    "pound": "lb", "pounds": "lb", "ounce": "oz", "ounces": "oz",
    "pod": COUNT, "pods": COUNT, "unit": COUNT, "units": COUNT, "each": COUNT,
}
KNOWN_UNITS = tuple(_UNITS)
# How an amount in each unit is written for people: a count needs no word ("10 left"), the rest their usual
# abbreviation or name with its plural.
_UNIT_WORDS = {PERCENTAGE: ("%", "%"), "ml": (" ml", " ml"), "l": (" litre", " litres"),
               "fl_oz": (" fl oz", " fl oz"), "gal": (" gallon", " gallons"), "g": (" g", " g"),
               "kg": (" kg", " kg"), "oz": (" oz", " oz"), "lb": (" lb", " lb")}


def amount_words(amount: float, unit: str, of: float | None = None) -> str:
    """``10``, ``12.5 fl oz``, ``1 litre``, ``30%``; with ``of``, ``30 of 81`` or ``300 of 1,000 ml``."""
    one, other = _UNIT_WORDS.get(unit, ("", ""))
    word = one if amount == 1 else other
    if of is not None:
        return f"{amount:,g} of {of:,g}{word if unit != PERCENTAGE else '%'}"
    return f"{amount:,g}{word}"


def canonical_unit(name: str) -> str:
    """The canonical name of a unit (``"Litre"`` -> ``"l"``), so that a slot stores one spelling and readings
    compare and convert reliably. Raises InvalidCommand (field ``unit``) for a unit we cannot convert."""
    key = name.strip().lower() if isinstance(name, str) else None
    if key in _UNITS:
        return key
    if key in _ALIASES:
        return _ALIASES[key]
    raise InvalidCommand(f"Unknown unit {name!r}; known units: {', '.join(KNOWN_UNITS)}.", field="unit")


def convert(amount: float, from_unit: str, to_unit: str, capacity: float) -> float:
    """``amount`` in ``from_unit`` expressed in ``to_unit``. A percentage is of the container: ``capacity`` (in
    ``to_unit``) is 100%. Converting between dimensions (pods to millilitres, millilitres to grams) needs a
    density or a pod size we do not know, so it is refused rather than guessed (InvalidCommand, field ``unit``)."""
    source, dest = canonical_unit(from_unit), canonical_unit(to_unit)
    if source == PERCENTAGE:
        return amount / 100.0 * capacity
    if dest == PERCENTAGE:
        raise InvalidCommand(f"This slot is measured in percent; a reading in {source} cannot be placed on it "
                             "(send it in percent).", field="unit")
    (source_dim, source_size), (dest_dim, dest_size) = _UNITS[source], _UNITS[dest]
    if source_dim != dest_dim:
        hint = " (fluid ounces are fl_oz)" if source == "oz" and dest_dim == "volume" else ""
        raise InvalidCommand(f"Cannot convert {source} ({source_dim}) to {dest} ({dest_dim}){hint}.", field="unit")
    return amount if source == dest else amount * source_size / dest_size


# -- validation helpers -------------------------------------------------------------------------------------

def _number(value, field: str, what: str) -> float:
    """``value`` as a finite float; NaN, infinities, booleans and text are refused with the API field named."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, Decimal)):
        raise InvalidCommand(f"{what} must be a number.", field=field)
    number = float(value)
    if not math.isfinite(number):
        raise InvalidCommand(f"{what} must be a finite number.", field=field)
    return number


def _moment(value, field: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise InvalidCommand(f"{field} must be a date and time.", field=field)
    return as_utc(value)


def _valid_debounce(value) -> int:
    number = _number(value, "debounce", "debounce")
    if number != int(number) or not 1 <= number <= MAX_DEBOUNCE:
        raise InvalidCommand(f"debounce must be a whole number of readings from 1 to {MAX_DEBOUNCE}.",
                             field="debounce")
    return int(number)


def _limits(capacity: float, threshold: float, target: float) -> None:
    if not 0 <= threshold < target:
        raise InvalidCommand("Need 0 <= threshold < target.", field="threshold")
    if target > capacity * 10:
        raise InvalidCommand("target can be at most ten times the capacity.", field="target")


class Slot:
    """One consumable in a device: what it may hold, how much, and when to reorder.

    Levels are kept in the slot's own ``unit``; readings in another unit are converted on the way in. Objects
    loaded from the database skip ``__init__``: every attribute set here is a column (``history`` is JSON)."""

    def __init__(self, device_id: str, slot_id: str, products: list[str], capacity: float, unit: str = COUNT,
                 threshold: float | None = None, target: float | None = None, mode: str = SlotMode.AUTO.value,
                 sku: str | None = None, debounce: int = DEFAULT_DEBOUNCE):
        if not slot_id or len(slot_id) > 64:
            raise InvalidCommand("slot_id must be 1 to 64 characters.", field="slot_id")
        if not products:
            raise InvalidCommand("A slot needs at least one compatible product.", field="products")
        if capacity is None or _number(capacity, "capacity", "capacity") <= 0:
            raise InvalidCommand("capacity must be more than 0.", field="capacity")
        capacity = float(capacity)
        self.device_id = device_id
        self.slot_id = slot_id
        self.products = list(products)
        self.sku = sku or self.products[0]
        if self.sku not in self.products:
            raise InvalidCommand("The chosen product must be one of the slot's compatible products.", field="sku")
        self.capacity = capacity
        self.unit = canonical_unit(unit)
        self.threshold = _number(threshold, "threshold", "threshold") if threshold is not None else capacity * 0.2
        self.target = _number(target, "target", "target") if target is not None else capacity
        _limits(capacity, self.threshold, self.target)
        self.mode = _mode(mode)
        self.debounce = _valid_debounce(debounce)
        self.low_streak = 0  # in-order readings at or below the threshold in a row
        self.remaining: float | None = None
        self.original: float | None = None
        self.on_hand: float | None = None
        self.expected_replenishment: datetime | None = None
        self.last_use_at: datetime | None = None
        self.reported_at: datetime | None = None
        self.history: list = []  # [[iso time, level], ...] newest last, since the last refill
        self.notified_at: datetime | None = None

    # -- history ---------------------------------------------------------------------------------------
    def readings(self) -> list[Reading]:
        """The levels reported since the last refill, oldest first (a new list each call)."""
        return list(self._parsed()[0])

    def _parsed(self) -> tuple[list[Reading], list]:
        """``history`` parsed, with the entries it was parsed from (unreadable ones left out). Parsed once for as
        long as ``history`` is the same list: a report and the policy's decision read it several times
        (``history`` is only ever replaced, never changed in place)."""
        history = self.history or []
        kept = self.__dict__.get("_parsed_history")
        if kept is None or kept[0] is not history:
            readings, entries = [], []
            for entry in history:
                try:
                    at, level = entry
                    readings.append(Reading(as_utc(datetime.fromisoformat(at)), float(level)))
                    entries.append(entry)
                except (TypeError, ValueError):
                    continue
            kept = self.__dict__["_parsed_history"] = (history, readings, entries)
        return kept[1], kept[2]

    def _keep(self, readings: list[Reading], entries: list) -> None:
        """The newest ``HISTORY_POINTS`` of ``readings`` (in time order) as the history, with their entries as
        its stored form, kept parsed."""
        self.history = entries[-HISTORY_POINTS:]
        self.__dict__["_parsed_history"] = (self.history, readings[-HISTORY_POINTS:], self.history)

    # -- reports ---------------------------------------------------------------------------------------
    def _in_slot_unit(self, value: float, unit: str | None) -> float:
        """A reported quantity in the slot's unit. A percentage reading needs no slot unit (it is of the
        capacity), so it works even on a slot stored with a unit from before units were checked."""
        if unit is None:
            return value
        source = canonical_unit(unit)
        if source == PERCENTAGE:
            return value / 100.0 * self.capacity
        if source == self.unit:
            return value
        return convert(value, source, self.unit, self.capacity)

    def _quantity(self, value, unit: str | None, field: str, what: str) -> float:
        """A reported quantity, checked and converted; not negative (a level or an amount never is)."""
        number = self._in_slot_unit(_number(value, field, what), unit)
        if number < 0:
            raise InvalidCommand(f"{what} cannot be negative.", field=field)
        return number

    def _within(self, value: float, limit: float, field: str, message: str) -> float:
        """``value`` if it is at most ``limit``; a hair over it (unit rounding) reads as ``limit``."""
        if value > limit * (1 + 1e-9):
            raise InvalidCommand(message, field=field)
        return min(value, limit)

    def _reading_time(self, now: datetime, last_use) -> datetime:
        """When a reading was taken: its ``lastUseDate`` if it has one, else when it arrived. A date beyond the
        clock skew in the future is a broken clock, and would pin the trend and the order of reports."""
        at = _moment(last_use, "lastUseDate")
        if at is not None and at > now + CLOCK_SKEW:
            raise InvalidCommand("lastUseDate is in the future.", field="lastUseDate")
        return at or now

    def report(self, now: datetime, remaining: float, original: float | None = None, on_hand: float | None = None,
               expected_replenishment: datetime | None = None, last_use: datetime | None = None,
               unit: str | None = None) -> bool:
        """Records a status report (an absolute level). False when it is a repeat of the last one (a redelivered
        message). Everything is checked before anything changes: an impossible report raises InvalidCommand
        naming the API field and leaves the slot exactly as it was."""
        now = as_utc(now)
        if unit is not None:
            canonical_unit(unit)  # a bad unit is the reason, whatever else is wrong
        level = self._quantity(remaining, unit, "remainingQuantityInUnit", "remainingQuantityInUnit")
        full = None
        if original is not None:
            full = self._quantity(original, unit, "originalQuantityInUnit", "originalQuantityInUnit")
            if full <= 0:
                raise InvalidCommand("originalQuantityInUnit must be more than 0.", field="originalQuantityInUnit")
            full = self._within(full, self.capacity, "originalQuantityInUnit",
                                f"originalQuantityInUnit is more than the slot holds ({self.capacity:g} {self.unit}).")
            level = self._within(level, full, "remainingQuantityInUnit",
                                 "remainingQuantityInUnit is more than originalQuantityInUnit.")
        else:
            level = self._within(level, self.capacity, "remainingQuantityInUnit",
                                 f"remainingQuantityInUnit is more than the slot holds "
                                 f"({self.capacity:g} {self.unit}).")
        hand = None if on_hand is None else self._quantity(on_hand, unit, "totalQuantityOnHand",
                                                           "totalQuantityOnHand")
        expected = _moment(expected_replenishment, "expectedReplenishmentDate")
        at = self._reading_time(now, last_use)
        return self._record(now, level, at, dated=last_use is not None, original=full, on_hand=hand,
                            expected_replenishment=expected)

    def consume(self, now: datetime, amount: float, unit: str | None = None, last_use: datetime | None = None) -> bool:
        """Records a usage report ("consumed 1 pod", as Alexa.InventoryUsageSensor sends): the known level less
        ``amount``, floored at 0, recorded as a reading exactly as ``report`` would (trend, low streak).

        A delta needs a level to apply to, so without one it is refused (field ``consumed``). A delta dated at
        or before the newest reading is not applied (False): it is either the same message again or a late one
        that cannot be placed, and applying it twice would make the level fall faster than it does."""
        now = as_utc(now)
        if unit is not None:
            canonical_unit(unit)
        used = self._quantity(amount, unit, "consumed", "consumed")
        if used <= 0:
            raise InvalidCommand("consumed must be more than 0.", field="consumed")
        if used > self.capacity * (1 + 1e-9):  # more than the container holds: a broken sensor, not a use
            raise InvalidCommand(f"consumed is more than the slot holds ({self.capacity:g} {self.unit}).",
                                 field="consumed")
        at = self._reading_time(now, last_use)
        if self.remaining is None:
            raise InvalidCommand("No level is known for this slot yet: report an absolute level first "
                                 "(remainingQuantityInUnit), then usage.", field="consumed")
        readings = self._parsed()[0]
        newest = readings[-1].at if readings else None
        if newest is not None and at <= newest:
            if last_use is not None:
                self.reported_at = now
                return False
            at = newest  # undated, but the newest reading's clock ran ahead: it still follows that reading
        return self._record(now, max(0.0, self.remaining - used), at, dated=last_use is not None)

    def _record(self, now: datetime, level: float, at: datetime, *, dated: bool, original: float | None = None,
                on_hand: float | None = None, expected_replenishment: datetime | None = None) -> bool:
        """Stores a checked reading: a repeat changes nothing, a late one joins the trend only, a higher level
        than the last starts the trend again (a refill), anything else is the new level."""
        readings, entries = self._parsed()
        if readings and readings[-1].level == level and (readings[-1].at == at or not dated
                                                         and self.remaining == level):
            self.reported_at = now
            return False
        reading, entry = Reading(at, level), [iso(at), level]
        if readings and at < readings[-1].at:  # a report that arrived late: put in its place (after any of the
            # same time), for the trend only; the level, the streak and the other figures stay the newest's
            self.reported_at = now
            if reading in readings:
                return False  # an older report delivered again
            at_index = bisect.bisect_right([r.at for r in readings], at)
            self._keep(readings[:at_index] + [reading] + readings[at_index:],
                       entries[:at_index] + [entry] + entries[at_index:])
            return True
        streak = self.low_streak or 0
        if readings and level > readings[-1].level:  # refilled: the trend and the streak start again
            readings, entries, streak = [reading], [entry], 0
            self.notified_at = None
        else:  # in time order, as almost every report is
            readings, entries = readings + [reading], entries + [entry]
        self._keep(readings, entries)
        self.low_streak = streak + 1 if level <= self.threshold else 0
        self.remaining = level
        self.original = original if original is not None else self.original
        self.on_hand = on_hand if on_hand is not None else self.on_hand
        self.expected_replenishment = expected_replenishment or self.expected_replenishment
        self.last_use_at = at if dated else self.last_use_at
        self.reported_at = now
        return True

    def configure(self, *, mode: str | None = None, sku: str | None = None, threshold: float | None = None,
                  target: float | None = None, debounce: int | None = None) -> None:
        """Changes what the household or partner may change; all checked before any of it is applied. A new
        threshold starts the low streak again: readings counted against the old one say nothing of the new."""
        if sku is not None and sku not in self.products:
            raise InvalidCommand("The chosen product must be one of the slot's compatible products.", field="sku")
        new_mode = self.mode if mode is None else _mode(mode)
        new_threshold = self.threshold if threshold is None else _number(threshold, "threshold", "threshold")
        new_target = self.target if target is None else _number(target, "target", "target")
        _limits(self.capacity, new_threshold, new_target)
        new_debounce = self.debounce if debounce is None else _valid_debounce(debounce)
        if new_threshold != self.threshold:
            self.low_streak = 0
        self.mode, self.sku = new_mode, sku or self.sku
        self.threshold, self.target, self.debounce = new_threshold, new_target, new_debounce

    # -- policy ----------------------------------------------------------------------------------------
    def usage_per_day(self) -> float | None:
        """Least-squares slope of level over time since the last refill, as consumption per day."""
        points = self._parsed()[0]
        if len(points) < 2:
            return None
        t0 = points[0].at
        xs = [(p.at - t0).total_seconds() / 86400 for p in points]
        ys = [p.level for p in points]
        n = len(xs)
        mx, my = sum(xs) / n, sum(ys) / n
        var = sum((x - mx) ** 2 for x in xs)
        if var <= 0:
            return None
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=False)) / var
        return -slope if slope < 0 else None

    def predicted_runout(self, now: datetime) -> datetime | None:
        """When the level trend reaches 0, counted from the newest reading; None without a falling trend."""
        rate = self.usage_per_day()
        if rate is None or self.remaining is None:
            return None
        last = self._parsed()[0][-1].at
        return last + timedelta(days=self.remaining / rate)

    def packs_needed(self, pack_size: float) -> int:
        """Whole packs to bring the level up to the target: 0 when it is already there (ordering then would
        only overfill), one pack when no level is known (the usual purchase), at most ``MAX_QUANTITY`` (of one
        product in one order)."""
        if self.remaining is None:
            return 1
        if self.remaining >= self.target:
            return 0
        try:
            size = float(pack_size)
        except (TypeError, ValueError):
            size = 1.0
        if not size > 0 or not math.isfinite(size):
            size = 1.0  # an unknown pack size: count in single units
        return min(MAX_QUANTITY, max(1, math.ceil((self.target - self.remaining) / size - 1e-9)))

    def _readings_needed(self) -> int:
        """The slot's debounce, read defensively: a row from before the column existed may hold nothing."""
        try:
            return min(MAX_DEBOUNCE, max(1, int(self.debounce)))
        except (AttributeError, TypeError, ValueError):
            return DEFAULT_DEBOUNCE

    def decide(self, now: datetime, pack_size: float, lead_time: timedelta = DEFAULT_LEAD_TIME,
               expected_purchase_at: datetime | None = None) -> Decision:
        """Order (or notify, in notify mode) when the slot is empty, when the level has been at or below the
        threshold for ``debounce`` readings in a row, or when the level trend runs out inside the delivery lead
        time. The recommender's repurchase timing (``expected_purchase_at``) is history, not a measurement: it
        acts only for a slot with no level at all, since a live level above the threshold says it is not needed."""
        now = as_utc(now)
        horizon = now + lead_time
        if self.remaining is None:
            due = as_utc(expected_purchase_at)
            if due is not None and due <= horizon:
                return self._act("repurchase_timing", pack_size, None)
            return Decision("none", "no level reported yet")
        runout = self.predicted_runout(now)
        low, streak, needed = self.remaining <= self.threshold, self.low_streak or 0, self._readings_needed()
        if self.remaining <= 0:
            reason = "empty"
        elif low and streak >= needed:
            reason = "threshold"
        elif runout is not None and runout <= horizon:
            reason = "predicted_runout"
        elif low:
            more = needed - streak
            return Decision("none", f"waiting for {more} more low reading{'s' if more != 1 else ''}",
                            runout_at=runout)
        else:
            return Decision("none", "level fine", runout_at=runout)
        return self._act(reason, pack_size, runout)

    def _act(self, reason: str, pack_size: float, runout: datetime | None) -> Decision:
        packs = self.packs_needed(pack_size)
        if packs == 0:
            return Decision("none", "level at or above target", runout_at=runout)
        if self.mode == SlotMode.NOTIFY.value:
            return Decision("notify", reason, runout_at=runout)
        return Decision("order", reason, packs=packs, runout_at=runout)


def _mode(mode: str) -> str:
    try:
        return SlotMode(mode).value
    except ValueError:
        raise InvalidCommand(f"mode must be one of: {', '.join(m.value for m in SlotMode)}.", field="mode") from None
