"""Commands: what someone asks the system to do, in the imperative. Entrypoints build these from their input."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LineRequest:
    sku: str
    quantity: int = 1


@dataclass(frozen=True)
class PlaceOrder:
    household_id: str
    channel: str
    lines: tuple[LineRequest, ...]
    source_id: str | None = None
    exclusive_source: bool = True
    idempotency_key: str | None = None
    test: bool = False  # a partner's test order (DRS TEST_ORDER_PLACED): never sent to the store
    speaker: str | None = None  # who asked, when the channel knows (an Alexa voice profile's personId)


@dataclass(frozen=True)
class CancelOrder:
    household_id: str
    order_id: str
    reason: str = "cancelled by household"
    speaker: str | None = None  # who asked, when the channel knows (an Alexa voice profile's personId)


@dataclass(frozen=True)
class SubmitOrder:
    order_id: str


@dataclass(frozen=True)
class TrackOrder:
    order_id: str


@dataclass(frozen=True)
class CreateHousehold:
    household_id: str
    name: str = ""
    address: str = ""
    time_zone: str = "UTC"
    members: tuple[str, ...] = ()


@dataclass(frozen=True)
class IssueToken:
    household_id: str
    label: str = "api"


@dataclass(frozen=True)
class RevokeToken:
    household_id: str
    token_id: str


@dataclass(frozen=True)
class RotateToken:
    """A new token with the same label, and the old one revoked, in one step."""
    household_id: str
    token_id: str


@dataclass(frozen=True)
class UpdateLimits:
    household_id: str
    per_order_cap_cents: int | None = None
    per_month_cap_cents: int | None = None
    cancel_windows: dict = field(default_factory=dict)
    clear_per_order_cap: bool = False
    clear_per_month_cap: bool = False
    recognised_voices_only: bool | None = None  # None leaves it as it is
    send_together: bool | None = None  # None leaves it as it is


@dataclass(frozen=True)
class SetVoicePin:
    household_id: str
    pin: str | None  # None removes it


@dataclass(frozen=True)
class CheckVoicePin:
    household_id: str
    pin: str


@dataclass(frozen=True)
class SetNotificationPrefs:
    household_id: str
    channels: dict
    topics: dict
    email: str = ""
    phone: str = ""
