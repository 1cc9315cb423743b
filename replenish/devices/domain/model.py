"""Buttons, partner appliances and their slots, and the replenishment policy. Pure Python.

A *button* belongs to a household and orders one product (or a category resolved at press time).
A *partner* (an appliance maker) registers *devices* into a household with a short link code; each device
has *slots* (a detergent tank, a filter) whose level reports drive the replenishment policy.
"""
from __future__ import annotations

import enum
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta

from replenish.devices.domain.slots import (  # noqa: F401  (re-exported)
    DEFAULT_LEAD_TIME,
    Decision,
    Reading,
    Slot,
    SlotMode,
)
from replenish.domain import events
from replenish.domain.aggregate import Aggregate
from replenish.domain.errors import DomainError, InvalidCommand
from replenish.domain.model import MAX_QUANTITY, as_utc, hash_secret, new_id, utcnow

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


@events.register
@dataclass(frozen=True)
class ButtonPressRefused(events.Event):
    """A press that ordered nothing because a rule refused the order (a spending limit, stock)."""
    name = "ButtonPressRefused"
    serial: str
    household_id: str
    reason: str = ""
    code: str = ""


@events.register
@dataclass(frozen=True)
class SlotOrderRefused(events.Event):
    """An order an appliance's slot asked for (its level, or the partner's replenish call) that a rule refused."""
    name = "SlotOrderRefused"
    device_id: str
    partner_id: str
    household_id: str
    slot_id: str
    reason: str = ""
    code: str = ""
    tell_household: bool = True


# -- values ---------------------------------------------------------------------------------------------


class ClickType(str, enum.Enum):
    SINGLE = "SINGLE"
    DOUBLE = "DOUBLE"
    LONG = "LONG"


class DeviceGone(DomainError):
    code = "device_deregistered"


class Unauthorized(DomainError):
    code = "unauthorized"


BUTTON_ACTIONS = ("order", "list")  # what a single press does: order the product, or put it on the shopping list


def battery_words(reading: str | None) -> str:
    """``"1100mV"`` -> ``"1.1 V"``, ``"5.5%"`` -> ``"6%"``; empty when nothing was reported."""
    if not reading:
        return ""
    if reading.endswith("mV") and reading[:-2].isdigit():
        return f"{int(reading[:-2]) / 1000:.1f} V"
    if reading.endswith("%"):
        try:
            return f"{float(reading[:-1]):.0f}%"
        except ValueError:
            return reading
    return reading


SERIAL_ALPHABET = string.ascii_uppercase + string.digits
LINK_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off a phone, typed on a device
LINK_CODE_TTL = timedelta(minutes=15)
LOW_BATTERY_MV = 1300  # below this an AAA-powered button has weeks left
LOW_BATTERY_PERCENT = 10.0


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


# -- partners -------------------------------------------------------------------------------------------


class PartnerKey:
    """One of a partner's request-signing keys (RFC 9421 ``keyid`` and its HMAC secret). The secret is kept, not
    hashed: HMAC needs it. Several may be live at once while the partner rotates; a revoked one verifies
    nothing."""

    def __init__(self, partner_id: str, created_at: datetime):
        self.id = "pk_" + secrets.token_hex(12)
        self.partner_id = partner_id
        self.secret = new_secret("sk_")
        self.created_at = created_at
        self.revoked_at: datetime | None = None

    @property
    def live(self) -> bool:
        return self.revoked_at is None


class Partner:
    """An appliance maker. It signs its requests with its keys (``PartnerKey``) and verifies our webhooks with its
    webhook secrets; both are lists, so that a new one can be added before the old one is retired."""

    def __init__(self, name: str, webhook_url: str = "", id: str | None = None, created_at: datetime | None = None):
        if not name or len(name) > 200:
            raise InvalidCommand("A partner needs a name of 1 to 200 characters.", field="name")
        self.id = id or new_id()
        self.name = name
        self.webhook_url = webhook_url
        self.api_key_hash = None
        self.webhook_secrets: list[str] = []
        self.keys: list[PartnerKey] = []
        self.created_at = created_at or utcnow()
        self.revoked_at: datetime | None = None
        self.test_mode = False  # integrating: every order its devices ask for is a test order

    def issue_key(self, now: datetime) -> PartnerKey:
        key = PartnerKey(self.id, now)
        self.keys.append(key)
        return key

    def live_keys(self) -> list[PartnerKey]:
        return [key for key in self.keys if key.live]

    def revoke_key(self, key_id: str, now: datetime) -> PartnerKey:
        """Revokes one of the partner's live keys; the last live one stays (a partner without a key could not
        even ask for a new one)."""
        key = next((k for k in self.keys if k.id == key_id), None)
        if key is None or not key.live:
            from replenish.domain.errors import NotFound
            raise NotFound(f"No live key {key_id!r}.", field="key_id")
        if len(self.live_keys()) == 1:
            raise InvalidCommand("This is the partner's last live key: create a new one before revoking it.",
                                 field="key_id")
        key.revoked_at = now
        return key

    def add_webhook_secret(self) -> str:
        """A new webhook secret, as Standard Webhooks makes them: ``whsec_`` + standard base64 of 32 random bytes
        (the HMAC key), which any Standard Webhooks library accepts. (Older ones, ``whsec_`` + a urlsafe token,
        still sign: see ``replenish_partner.webhooks.webhook_key``.)"""
        from base64 import b64encode
        secret = "whsec_" + b64encode(secrets.token_bytes(32)).decode("ascii")
        self.webhook_secrets = list(self.webhook_secrets or []) + [secret]
        return secret

    def retire_webhook_secret(self, secret: str) -> None:
        if secret not in (self.webhook_secrets or []):
            raise InvalidCommand("That is not one of the partner's webhook secrets.", field="secret")
        remaining = [s for s in (self.webhook_secrets or []) if s != secret]
        if not remaining:
            raise InvalidCommand("A partner must keep at least one webhook secret.", field="secret")
        self.webhook_secrets = remaining


# -- buttons --------------------------------------------------------------------------------------------


class Button(Aggregate):
    """A Dash-style button. Its secret signs its presses, so it is kept (not hashed)."""

    def __init__(self, household_id: str, *, sku: str | None = None, category: str | None = None,
                 quantity: int = 1, serial: str | None = None, created_at: datetime | None = None,
                 action: str = "order"):
        if action not in BUTTON_ACTIONS:
            raise InvalidCommand("A button's action is 'order' (a press orders) or 'list' (a press adds to the "
                                 "shopping list).", field="action")
        if bool(sku) == bool(category):
            raise InvalidCommand("A button orders either one product (sku) or a category.", field="sku")
        if not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
            raise InvalidCommand(f"Quantity must be a whole number from 1 to {MAX_QUANTITY}.", field="quantity")
        self.serial = serial or "RB" + "".join(secrets.choice(SERIAL_ALPHABET) for _ in range(14))
        self.household_id = household_id
        self.sku = sku
        self.category = category
        self.quantity = quantity
        self.action = action
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

    def battery_words(self) -> str:
        """The last battery reading as people read it: ``1.1 V`` or ``6%`` (buttons report one or the other)."""
        return battery_words(self.battery)

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
                                                battery=self.battery or ""))
        elif not low:
            self.battery_low_at = None

    def refused(self, reason: str, code: str) -> None:
        self.events.append(ButtonPressRefused(serial=self.serial, household_id=self.household_id, reason=reason,
                                              code=code))

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
        self.secret: str | None = None
        self.test = False  # a test device: its orders are test orders
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

    def issue_secret(self) -> str:
        """The device's own signing secret (its keyid is its id): it works on this device's routes only."""
        self.secret = new_secret("dsk_")
        return self.secret

    def slot(self, slot_id: str) -> Slot:
        for slot in self.slots:
            if slot.slot_id == slot_id:
                return slot
        from replenish.domain.errors import NotFound
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
        self.secret = None
        self.active_key = None
        self.events.append(DeviceDeregistered(device_id=self.id, partner_id=self.partner_id,
                                              household_id=self.household_id, reason=reason))
        return True

    def slot_changed(self, slot: Slot) -> None:
        self.events.append(SubscriptionChanged(device_id=self.id, partner_id=self.partner_id,
                                               household_id=self.household_id, slot_id=slot.slot_id,
                                               mode=slot.mode, sku=slot.sku))

    def order_refused(self, slot: Slot, reason: str, code: str, tell_household: bool = True) -> None:
        self.events.append(SlotOrderRefused(device_id=self.id, partner_id=self.partner_id,
                                            household_id=self.household_id, slot_id=slot.slot_id, reason=reason,
                                            code=code, tell_household=tell_household))

    def slot_low(self, slot: Slot, reason: str) -> None:
        self.events.append(SlotRunningLow(device_id=self.id, partner_id=self.partner_id,
                                          household_id=self.household_id, slot_id=slot.slot_id,
                                          remaining=float(slot.remaining or 0), unit=slot.unit, reason=reason))
