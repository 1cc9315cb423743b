"""Events: facts that happened, named in the past tense. Written to the outbox with the state change."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import ClassVar


@dataclass(frozen=True)
class Event:
    name: ClassVar[str] = "Event"

    def payload(self) -> dict:
        return asdict(self)

    @classmethod
    def from_payload(cls, payload: dict) -> Event:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in payload.items() if k in names})


@dataclass(frozen=True)
class OrderEvent(Event):
    order_id: str
    household_id: str
    channel: str = ""
    source_id: str | None = None


@dataclass(frozen=True)
class OrderPlaced(OrderEvent):
    name: ClassVar[str] = "OrderPlaced"
    total_cents: int = 0
    submit_after: str = ""  # ISO 8601: when the cancel window closes
    test: bool = False  # a test order: never submitted
    speaker: str | None = None  # who ordered it, when the channel knows (an Alexa voice profile)


@dataclass(frozen=True)
class OrderSubmitted(OrderEvent):
    name: ClassVar[str] = "OrderSubmitted"
    retailer_order_id: str = ""


@dataclass(frozen=True)
class OrderSentTogether(OrderEvent):
    """The order went to the store in one retailer order with other orders of the household."""
    name: ClassVar[str] = "OrderSentTogether"
    retailer_order_id: str = ""
    together_with: list = field(default_factory=list)  # the other orders in the same retailer order, by products
    early: bool = False  # sent before its cancel window closed (with an order that was due)
    submit_after: str = ""  # when its cancel window would have closed


@dataclass(frozen=True)
class OrderConfirmed(OrderEvent):
    name: ClassVar[str] = "OrderConfirmed"
    expected_delivery: str | None = None


@dataclass(frozen=True)
class OrderShipped(OrderEvent):
    name: ClassVar[str] = "OrderShipped"
    tracking_url: str | None = None
    expected_delivery: str | None = None


@dataclass(frozen=True)
class OrderDelivered(OrderEvent):
    name: ClassVar[str] = "OrderDelivered"
    delivery_photo_url: str | None = None


@dataclass(frozen=True)
class OrderCancelled(OrderEvent):
    name: ClassVar[str] = "OrderCancelled"
    reason: str = ""
    speaker: str | None = None  # who cancelled it, when the channel knows (an Alexa voice profile)


@dataclass(frozen=True)
class OrderFailed(OrderEvent):
    name: ClassVar[str] = "OrderFailed"
    reason: str = ""


EVENT_TYPES: dict[str, type[Event]] = {
    cls.name: cls
    for cls in (OrderPlaced, OrderSubmitted, OrderConfirmed, OrderShipped, OrderDelivered, OrderCancelled, OrderFailed)
}
EVENT_TYPES[OrderSentTogether.name] = OrderSentTogether


def register(cls: type[Event]) -> type[Event]:
    """Lets other parts of the domain (devices, buttons) add their event types to the outbox's registry."""
    EVENT_TYPES[cls.name] = cls
    return cls


def load(name: str, payload: dict) -> Event:
    return EVENT_TYPES[name].from_payload(payload)


@register
@dataclass(frozen=True)
class VoicePinLocked(Event):
    """Three wrong voice PINs in a row: voice purchasing is locked ``minutes`` minutes, until ``until``."""
    name: ClassVar[str] = "VoicePinLocked"
    household_id: str
    until: str = ""
    minutes: int = 15
