"""Buttons, partner appliances and their slots, and the replenishment policy. Pure Python.

A *button* belongs to a household and orders one product (or a category resolved at press time).
A *partner* (an appliance maker) registers *devices* into a household with a short link code; each device
has *slots* (a detergent tank, a filter) whose level reports drive the replenishment policy.
"""
from __future__ import annotations

import bisect
import enum
import math
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta

from replenish.domain.aggregate import Aggregate

from . import events
from .errors import DomainError, InvalidCommand
from .model import as_utc, hash_secret, iso, new_id, utcnow

# -- events ---------------------------------------------------------------------------------------------


@events.register
@dataclass(frozen=True)
class ButtonRegistered(events.Event):
    name = "ButtonRegistered"
    serial: str
    household_id: str


@events.register
@dataclass(frozen=True)
class ButtonStatusRequested(events.Event):
    name = "ButtonStatusRequested"
    serial: str
    household_id: str
    order_id: str | None = None
    order_status: str | None = None


@events.register
@dataclass(frozen=True)
class ButtonBatteryLow(events.Event):
    name = "ButtonBatteryLow"
    serial: str
    household_id: str
    battery: str = ""  # as reported: "1650mV" or "8%"


@events.register
@dataclass(frozen=True)
class DeviceRegistered(events.Event):
    name = "DeviceRegistered"
    device_id: str
    partner_id: str
    household_id: str


@events.register
@dataclass(frozen=True)
class DeviceDeregistered(events.Event):
    name = "DeviceDeregistered"
    device_id: str
    partner_id: str
    household_id: str
    reason: str = ""


@events.register
@dataclass(frozen=True)
class SubscriptionChanged(events.Event):
    name = "SubscriptionChanged"
    device_id: str
    partner_id: str
    household_id: str
    slot_id: str
    mode: str = ""
    sku: str | None = None


@events.register
@dataclass(frozen=True)
class SlotRunningLow(events.Event):
    """Notify-only slots (and auto slots that could not order) tell the household instead of ordering."""
    name = "SlotRunningLow"
    device_id: str
    partner_id: str
    household_id: str
    slot_id: str
    remaining: float = 0.0
    unit: str = ""
    reason: str = ""


# -- values ---------------------------------------------------------------------------------------------


class ClickType(str, enum.Enum):
    SINGLE = "SINGLE"
    DOUBLE = "DOUBLE"
    LONG = "LONG"


class SlotMode(str, enum.Enum):
    AUTO = "auto"  # order by itself
    NOTIFY = "notify"  # tell the household, order nothing


class DeviceGone(DomainError):
    code = "device_deregistered"
    status = 410


class Unauthorized(DomainError):
    code = "unauthorized"
    status = 401


SERIAL_ALPHABET = string.ascii_uppercase + string.digits
LINK_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off a phone, typed on a device
LINK_CODE_TTL = timedelta(minutes=15)
LOW_BATTERY_MV = 1300  # below this an AAA-powered button has weeks left
LOW_BATTERY_PERCENT = 10.0
DEFAULT_LEAD_TIME = timedelta(days=2)


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


# -- partners -------------------------------------------------------------------------------------------


class Partner:
    """An appliance maker. Its API key is stored hashed; webhook secrets are kept (HMAC needs them) as a list
    so a new one can be added before the old one is retired."""

    def __init__(self, name: str, webhook_url: str = "", id: str | None = None, created_at: datetime | None = None):
        if not name or len(name) > 200:
            raise InvalidCommand("A partner needs a name of 1 to 200 characters.", field="name")
        self.id = id or new_id()
        self.name = name
        self.webhook_url = webhook_url
        self.api_key_hash = ""
        self.webhook_secrets: list[str] = []
        self.created_at = created_at or utcnow()
        self.revoked_at: datetime | None = None

    def issue_api_key(self) -> str:
        key = new_secret("rpk_")
        self.api_key_hash = hash_secret(key)
        return key

    def add_webhook_secret(self) -> str:
        secret = new_secret("whsec_")
        self.webhook_secrets = list(self.webhook_secrets or []) + [secret]
        return secret

    def retire_webhook_secret(self, secret: str) -> None:
        remaining = [s for s in (self.webhook_secrets or []) if s != secret]
        if not remaining:
            raise InvalidCommand("A partner must keep at least one webhook secret.", field="secret")
        self.webhook_secrets = remaining


# -- buttons --------------------------------------------------------------------------------------------


class Button(Aggregate):
    """A Dash-style button. Its secret signs its presses, so it is kept (not hashed)."""

    def __init__(self, household_id: str, *, sku: str | None = None, category: str | None = None,
                 quantity: int = 1, serial: str | None = None, created_at: datetime | None = None):
        if bool(sku) == bool(category):
            raise InvalidCommand("A button orders either one product (sku) or a category.", field="sku")
        if not isinstance(quantity, int) or not 1 <= quantity <= 99:
            raise InvalidCommand("Quantity must be a whole number from 1 to 99.", field="quantity")
        self.serial = serial or "RB" + "".join(secrets.choice(SERIAL_ALPHABET) for _ in range(14))
        self.household_id = household_id
        self.sku = sku
        self.category = category
        self.quantity = quantity
        self.secret = new_secret("btn_")
        self.status = "active"
        self.created_at = created_at or utcnow()
        self.last_press_at: datetime | None = None
        self.battery: str | None = None
        self.battery_low_at: datetime | None = None
        self.events = []
        self.events.append(ButtonRegistered(serial=self.serial, household_id=household_id))


    @property
    def id(self) -> str:
        return self.serial

    @property
    def source_id(self) -> str:
        return f"button:{self.serial}"

    def pressed(self, now: datetime, battery_mv: int | None = None, battery_percent: float | None = None) -> None:
        """Notes the press and the battery; a low battery is told once (until it reads healthy again)."""
        self.last_press_at = now
        low = None
        if battery_mv is not None:
            self.battery = f"{battery_mv}mV"
            low = battery_mv < LOW_BATTERY_MV
        elif battery_percent is not None:
            self.battery = f"{battery_percent:g}%"
            low = battery_percent < LOW_BATTERY_PERCENT
        if low is None:
            return
        if low and self.battery_low_at is None:
            self.battery_low_at = now
            self.events.append(ButtonBatteryLow(serial=self.serial, household_id=self.household_id,
                                                battery=self.battery))
        elif not low:
            self.battery_low_at = None

    def status_requested(self, order_id: str | None, order_status: str | None) -> None:
        self.events.append(ButtonStatusRequested(serial=self.serial, household_id=self.household_id,
                                                 order_id=order_id, order_status=order_status))


# -- devices and slots ----------------------------------------------------------------------------------


class LinkCode:
    """A short code a household hands to a partner's device so the device can join the household."""

    def __init__(self, household_id: str, now: datetime, ttl: timedelta = LINK_CODE_TTL):
        self.code = "".join(secrets.choice(LINK_CODE_ALPHABET) for _ in range(8))
        self.code_hash = hash_secret(self.code)
        self.household_id = household_id
        self.created_at = now
        self.expires_at = now + ttl
        self.used_at: datetime | None = None
        self.device_id: str | None = None

    @staticmethod
    def normalise(code: str) -> str:
        return "".join(ch for ch in (code or "").upper() if ch.isalnum())

    def usable(self, now: datetime) -> bool:
        return self.used_at is None and now < as_utc(self.expires_at)


class Device(Aggregate):
    def __init__(self, partner_id: str, household_id: str, external_id: str, model: str = "",
                 id: str | None = None, created_at: datetime | None = None):
        self.id = id or new_id()
        self.partner_id = partner_id
        self.household_id = household_id
        self.external_id = external_id
        self.model = model
        self.status = "active"
        self.created_at = created_at or utcnow()
        self.last_seen_at: datetime | None = self.created_at
        self.deregistered_at: datetime | None = None
        self.token_hash: str | None = None
        self.active_key: str | None = self.partner_key(partner_id, external_id)
        self.slots: list[Slot] = []
        self.events = []
        self.events.append(DeviceRegistered(device_id=self.id, partner_id=partner_id, household_id=household_id))


    @staticmethod
    def partner_key(partner_id: str, external_id: str) -> str:
        return f"{partner_id}:{external_id}"

    @property
    def active(self) -> bool:
        return self.status == "active"

    def issue_token(self) -> str:
        token = new_secret("rpd_")
        self.token_hash = hash_secret(token)
        return token

    def slot(self, slot_id: str) -> "Slot":
        for slot in self.slots:
            if slot.slot_id == slot_id:
                return slot
        from .errors import NotFound
        raise NotFound(f"Device has no slot {slot_id!r}.", field="slot_id")

    def ensure_active(self) -> None:
        if not self.active:
            raise DeviceGone("This device was deregistered.", field="device_id")

    def heartbeat(self, now: datetime) -> None:
        self.ensure_active()
        self.last_seen_at = now

    def deregister(self, now: datetime, reason: str = "deregistered by partner") -> bool:
        """Stops ordering and revokes the device's credentials. False when it already was."""
        if not self.active:
            return False
        self.status = "deregistered"
        self.deregistered_at = now
        self.token_hash = None
        self.active_key = None
        self.events.append(DeviceDeregistered(device_id=self.id, partner_id=self.partner_id,
                                              household_id=self.household_id, reason=reason))
        return True

    def slot_changed(self, slot: "Slot") -> None:
        self.events.append(SubscriptionChanged(device_id=self.id, partner_id=self.partner_id,
                                               household_id=self.household_id, slot_id=slot.slot_id,
                                               mode=slot.mode, sku=slot.sku))

    def slot_low(self, slot: "Slot", reason: str) -> None:
        self.events.append(SlotRunningLow(device_id=self.id, partner_id=self.partner_id,
                                          household_id=self.household_id, slot_id=slot.slot_id,
                                          remaining=float(slot.remaining or 0), unit=slot.unit, reason=reason))


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


HISTORY_POINTS = 20


class Slot:
    """One consumable in a device: what it may hold, how much, and when to reorder."""

    def __init__(self, device_id: str, slot_id: str, products: list[str], capacity: float, unit: str = "count",
                 threshold: float | None = None, target: float | None = None, mode: str = SlotMode.AUTO.value,
                 sku: str | None = None):
        if not slot_id or len(slot_id) > 64:
            raise InvalidCommand("slot_id must be 1 to 64 characters.", field="slot_id")
        if not products:
            raise InvalidCommand("A slot needs at least one compatible product.", field="products")
        if capacity is None or capacity <= 0:
            raise InvalidCommand("capacity must be more than 0.", field="capacity")
        self.device_id = device_id
        self.slot_id = slot_id
        self.products = list(products)
        self.sku = sku or self.products[0]
        if self.sku not in self.products:
            raise InvalidCommand("The chosen product must be one of the slot's compatible products.", field="sku")
        self.capacity = float(capacity)
        self.unit = unit
        self.threshold = float(threshold if threshold is not None else capacity * 0.2)
        self.target = float(target if target is not None else capacity)
        if not 0 <= self.threshold < self.target <= self.capacity * 10:
            raise InvalidCommand("Need 0 <= threshold < target.", field="threshold")
        self.mode = SlotMode(mode).value
        self.remaining: float | None = None
        self.original: float | None = None
        self.on_hand: float | None = None
        self.expected_replenishment: datetime | None = None
        self.last_use_at: datetime | None = None
        self.reported_at: datetime | None = None
        self.history: list = []  # [[iso time, level], ...] newest last, since the last refill
        self.notified_at: datetime | None = None

    # -- reports ---------------------------------------------------------------------------------------
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

    def report(self, now: datetime, remaining: float, original: float | None = None, on_hand: float | None = None,
               expected_replenishment: datetime | None = None, last_use: datetime | None = None) -> bool:
        """Records a status report. False when it is a repeat of the last one (a redelivered message)."""
        if remaining < 0:
            raise InvalidCommand("remainingQuantityInUnit cannot be negative.", field="remainingQuantityInUnit")
        at = as_utc(last_use) or now
        readings, entries = self._parsed()
        if readings and readings[-1].level == remaining and (readings[-1].at == at or last_use is None
                                                             and self.remaining == remaining):
            self.reported_at = now
            return False
        reading, entry = Reading(at, float(remaining)), [iso(at), float(remaining)]
        if readings and at < readings[-1].at:  # a report that arrived late: put in its place (after any of the
            # same time), for the trend only; the level and the other figures stay those of the newest report
            self.reported_at = now
            if reading in readings:
                return False  # an older report delivered again
            at_index = bisect.bisect_right([r.at for r in readings], at)
            self._keep(readings[:at_index] + [reading] + readings[at_index:],
                       entries[:at_index] + [entry] + entries[at_index:])
            return True
        if readings and remaining > readings[-1].level:  # refilled: the trend starts again
            readings, entries = [reading], [entry]
            self.notified_at = None
        else:  # in time order, as almost every report is
            readings, entries = readings + [reading], entries + [entry]
        self._keep(readings, entries)
        self.remaining = float(remaining)
        self.original = float(original) if original is not None else self.original
        self.on_hand = float(on_hand) if on_hand is not None else self.on_hand
        self.expected_replenishment = expected_replenishment or self.expected_replenishment
        self.last_use_at = as_utc(last_use) or self.last_use_at
        self.reported_at = now
        return True

    def configure(self, *, mode: str | None = None, sku: str | None = None, threshold: float | None = None,
                  target: float | None = None) -> None:
        if sku is not None and sku not in self.products:
            raise InvalidCommand("The chosen product must be one of the slot's compatible products.", field="sku")
        new_threshold = self.threshold if threshold is None else float(threshold)
        new_target = self.target if target is None else float(target)
        if not 0 <= new_threshold < new_target:
            raise InvalidCommand("Need 0 <= threshold < target.", field="threshold")
        self.mode = SlotMode(mode).value if mode is not None else self.mode
        self.sku = sku or self.sku
        self.threshold, self.target = new_threshold, new_target

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
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var
        return -slope if slope < 0 else None

    def predicted_runout(self, now: datetime) -> datetime | None:
        rate = self.usage_per_day()
        if rate is None or self.remaining is None:
            return None
        last = self._parsed()[0][-1].at
        return last + timedelta(days=self.remaining / rate)

    def packs_needed(self, pack_size: float) -> int:
        remaining = self.remaining or 0.0
        if remaining >= self.target:
            return 1
        if pack_size <= 0:
            return 1
        return max(1, math.ceil((self.target - remaining) / pack_size - 1e-9))

    def decide(self, now: datetime, pack_size: float, lead_time: timedelta = DEFAULT_LEAD_TIME,
               expected_purchase_at: datetime | None = None) -> Decision:
        """Order (or notify) when the level crosses the threshold, or when the predicted run-out falls inside
        the delivery lead time. ``expected_purchase_at`` (the recommender's repurchase timing) stands in for
        the level trend when there is no trend yet."""
        if self.remaining is None:
            return Decision("none", "no level reported yet")
        runout = self.predicted_runout(now)
        reason = None
        if self.remaining <= self.threshold:
            reason = "threshold"
        elif runout is not None and runout <= now + lead_time:
            reason = "predicted_runout"
        elif runout is None and expected_purchase_at is not None and expected_purchase_at <= now + lead_time:
            reason = "repurchase_timing"
        if reason is None:
            return Decision("none", "level fine", runout_at=runout)
        if self.mode == SlotMode.NOTIFY.value:
            return Decision("notify", reason, runout_at=runout)
        return Decision("order", reason, packs=min(99, self.packs_needed(pack_size)), runout_at=runout)
