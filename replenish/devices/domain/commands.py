"""Commands of the button and appliance channels."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class RegisterButton:
    household_id: str
    sku: str | None = None
    category: str | None = None
    quantity: int = 1
    action: str = "order"  # or "list": a press puts it on the household's shopping list


@dataclass(frozen=True)
class PressButton:
    serial: str
    click_type: str  # SINGLE | DOUBLE | LONG
    battery_mv: int | None = None
    battery_percent: float | None = None


@dataclass(frozen=True)
class CreatePartner:
    name: str
    webhook_url: str = ""
    test_mode: bool = False


@dataclass(frozen=True)
class RotateWebhookSecret:
    partner_id: str
    retire: str | None = None  # a secret to retire instead of adding one


@dataclass(frozen=True)
class CancelTestOrder:
    partner_id: str
    order_id: str


@dataclass(frozen=True)
class CreatePartnerKey:
    partner_id: str


@dataclass(frozen=True)
class RevokePartnerKey:
    partner_id: str
    key_id: str


@dataclass(frozen=True)
class SetButtonStatus:
    household_id: str
    serial: str
    status: str  # active | disabled


@dataclass(frozen=True)
class UnpairButton:
    household_id: str
    serial: str


@dataclass(frozen=True)
class CreateLinkCode:
    household_id: str


@dataclass(frozen=True)
class SlotSpec:
    slot_id: str
    products: tuple[str, ...]
    capacity: float
    unit: str = "count"
    threshold: float | None = None
    target: float | None = None
    mode: str = "auto"
    sku: str | None = None
    debounce: int = 2


@dataclass(frozen=True)
class RegisterDevice:
    partner_id: str
    link_code: str
    external_id: str
    model: str = ""
    slots: tuple[SlotSpec, ...] = ()
    test: bool = False


@dataclass(frozen=True)
class ReportSlotStatus:
    partner_id: str
    device_id: str
    slot_id: str
    remaining: float | None
    original: float | None = None
    on_hand: float | None = None
    expected_replenishment: datetime | None = None
    last_use: datetime | None = None
    unit: str | None = None  # the unit of ``remaining`` when not the slot's own
    consumed: float | None = None  # a usage report: this much was used (``remaining`` is then None)


@dataclass(frozen=True)
class Heartbeat:
    partner_id: str
    device_id: str
    most_recently_active: datetime | None = None


@dataclass(frozen=True)
class Replenish:
    partner_id: str
    device_id: str
    slot_id: str


@dataclass(frozen=True)
class DeregisterDevice:
    partner_id: str | None  # None: the household removes it
    device_id: str
    household_id: str | None = None
    reason: str = "deregistered by partner"


@dataclass(frozen=True)
class ConfigureSlot:
    household_id: str
    device_id: str
    slot_id: str
    mode: str | None = None
    sku: str | None = None
    threshold: float | None = None
    target: float | None = None
    debounce: int | None = None
