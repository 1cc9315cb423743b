"""Households, their limits, and orders with their lifecycle.

Plain classes (mapped to tables imperatively by ``replenish.adapters.orm``). Every state change of an order
goes through a method here that checks the transition and records an event.
"""
from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import overload
from zoneinfo import ZoneInfo

from . import events
from .aggregate import Aggregate
from .errors import IllegalTransition, InvalidCommand


def utcnow() -> datetime:
    return datetime.now(UTC)


def zone(name: str | None) -> ZoneInfo:
    """A household's time zone; UTC for none, or for one this machine's time zone database does not have."""
    try:
        return ZoneInfo(name or "UTC")
    except Exception:
        return ZoneInfo("UTC")


@overload
def as_utc(value: datetime) -> datetime: ...
@overload
def as_utc(value: None) -> None: ...
def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; everything in the domain is aware UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso(value: datetime | None) -> str | None:
    value = as_utc(value)
    return value.isoformat() if value else None


class Channel(str, enum.Enum):
    VOICE = "voice"
    BUTTON = "button"
    APPLIANCE = "appliance"
    WEB = "web"


class OrderStatus(str, enum.Enum):
    PENDING = "pending"
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    FAILED = "failed"


ACTIVE = frozenset({OrderStatus.PENDING, OrderStatus.SUBMITTED, OrderStatus.CONFIRMED, OrderStatus.SHIPPED})
CANCELLABLE = frozenset({OrderStatus.PENDING, OrderStatus.SUBMITTED, OrderStatus.CONFIRMED})
# The forward path; tracking may learn of several steps at once and walks them in order.
FORWARD = (OrderStatus.PENDING, OrderStatus.SUBMITTED, OrderStatus.CONFIRMED, OrderStatus.SHIPPED,
           OrderStatus.DELIVERED)
ALLOWED: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset({OrderStatus.SUBMITTED, OrderStatus.CANCELLED, OrderStatus.FAILED}),
    OrderStatus.SUBMITTED: frozenset({OrderStatus.CONFIRMED, OrderStatus.CANCELLED, OrderStatus.FAILED}),
    OrderStatus.CONFIRMED: frozenset({OrderStatus.SHIPPED, OrderStatus.CANCELLED, OrderStatus.FAILED}),
    OrderStatus.SHIPPED: frozenset({OrderStatus.DELIVERED, OrderStatus.FAILED}),
    OrderStatus.DELIVERED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.FAILED: frozenset(),
}


def hash_secret(secret: str) -> str:
    """Tokens are long random strings, so one SHA-256 is enough to store them (no need for a slow KDF)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_id() -> str:
    return uuid.uuid4().hex


class Household:
    def __init__(self, id: str, name: str = "", address: str = "", time_zone: str = "UTC",
                 members: list[str] | None = None, created_at: datetime | None = None):
        self.id = str(id)
        self.name = name
        self.address = address
        self.time_zone = time_zone
        self.members = list(members or [])
        self.created_at = created_at or utcnow()
        self.limits = Limits(self.id)

    def __repr__(self) -> str:
        return f"<Household {self.id}>"


class ApiToken:
    """A household's API token, for the household API and the dashboard's sign-in (Alexa gets OAuth tokens,
    never this one). Only its hash is stored."""

    PREFIX_LENGTH = 10  # what lists show ("rpl_AbC123"): enough to tell tokens apart, far too little to use

    def __init__(self, household_id: str, token_hash: str, label: str = "api", created_at: datetime | None = None,
                 prefix: str | None = None):
        self.id = new_id()
        self.household_id = household_id
        self.token_hash = token_hash
        self.label = label
        self.prefix = prefix
        self.created_at = created_at or utcnow()
        self.revoked_at: datetime | None = None

    @staticmethod
    def issue(household_id: str, label: str = "api", now: datetime | None = None) -> tuple[ApiToken, str]:
        secret = "rpl_" + secrets.token_urlsafe(32)
        return ApiToken(household_id, hash_secret(secret), label, now, secret[:ApiToken.PREFIX_LENGTH]), secret

    @property
    def live(self) -> bool:
        return self.revoked_at is None


# Which notifications a household wants: per channel, and per kind of news.
NOTIFY_CHANNELS = ("email", "sms", "alexa")
NOTIFY_TOPICS = ("placed", "shipped", "delivered", "problems", "running_low")
TOPIC_OF_EVENT = {"OrderPlaced": "placed", "OrderSentTogether": "placed", "OrderShipped": "shipped",
                  "OrderDelivered": "delivered",
                  "OrderCancelled": "problems", "OrderFailed": "problems", "SlotRunningLow": "running_low",
                  "ButtonBatteryLow": "problems", "ButtonPressRefused": "problems", "SlotOrderRefused": "problems",
                  "VoicePinLocked": "problems"}


def default_notification_prefs() -> dict:
    return {"channels": {"email": False, "sms": False, "alexa": True}, "topics": {t: True for t in NOTIFY_TOPICS},
            "email": "", "phone": ""}


MAX_QUANTITY = 99  # of one product in one order
PIN_MAX_FAILURES = 3
# Each lockout in a row (no right code in between) lasts longer: 15 minutes, then an hour, then a day.
PIN_LOCKOUTS = (timedelta(minutes=15), timedelta(hours=1), timedelta(hours=24))
DEFAULT_CANCEL_WINDOWS = {Channel.VOICE.value: 1800, Channel.BUTTON.value: 900,
                          Channel.APPLIANCE.value: 900, Channel.WEB.value: 600}

# What a household may set its limits to. The API (cents, seconds) and the dashboard (dollars, minutes) both ask
# ``check_cap`` and ``check_cancel_window``, so they refuse the same values in the same words.
CAPS = {"per_order_cap_cents": ("The per-order limit", 10_000_000),  # $100,000
        "per_month_cap_cents": ("The monthly limit", 100_000_000)}  # $1,000,000
MAX_CANCEL_WINDOW = timedelta(days=7)
CHANNEL_NAMES = {Channel.VOICE.value: "Voice (Alexa)", Channel.BUTTON.value: "Buttons",
                 Channel.APPLIANCE.value: "Appliances", Channel.WEB.value: "This dashboard"}


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_amount(cents: int | None, *, field: str, name: str, ceiling: int, none: str = "no limit") -> int | None:
    """A spending cap in whole cents from 0 to ``ceiling``, None for ``none``; anything else is ``InvalidCommand``
    naming the cap in dollars (the API takes cents, the dashboard dollars: both refuse in these words). The one
    rule for every cap: a household's (``check_cap``) and a member's own (``replenish.members.model.check_cap``)."""
    if cents is not None and not (_whole(cents) and 0 <= cents <= ceiling):
        raise InvalidCommand(f"{name} is an amount from $0 to ${ceiling // 100:,}, or none for {none}.", field=field)
    return cents


def check_cap(field: str, cents: int | None) -> int | None:
    """A household's spending cap (``per_order_cap_cents`` or ``per_month_cap_cents``), by ``check_amount``."""
    name, ceiling = CAPS[field]
    return check_amount(cents, field=field, name=name, ceiling=ceiling)


def check_cancel_window(channel: str, seconds: int) -> int:
    """A channel's cancel window in seconds, 0 to ``MAX_CANCEL_WINDOW``; anything else is ``InvalidCommand``."""
    field = f"cancel_windows.{channel}"
    if channel not in DEFAULT_CANCEL_WINDOWS:
        raise InvalidCommand(f"Unknown channel {channel!r}: one of {', '.join(DEFAULT_CANCEL_WINDOWS)}.", field=field)
    if not (_whole(seconds) and 0 <= seconds <= MAX_CANCEL_WINDOW.total_seconds()):
        raise InvalidCommand(f"{CHANNEL_NAMES[channel]}: the cancel window is from 0 minutes to "
                             f"{MAX_CANCEL_WINDOW.days} days.", field=field)
    return seconds


class Limits(Aggregate):
    """A household's guard rails: spend caps, cancel window per channel, and the voice PIN."""

    def __init__(self, household_id: str, per_order_cap_cents: int | None = 20000,
                 per_month_cap_cents: int | None = 50000, cancel_windows: dict[str, int] | None = None):
        self.household_id = household_id
        self.per_order_cap_cents = per_order_cap_cents
        self.per_month_cap_cents = per_month_cap_cents
        self.cancel_windows = dict(cancel_windows or DEFAULT_CANCEL_WINDOWS)
        self.voice_pin_hash: str | None = None
        self.pin_failures = 0
        self.pin_locked_until: datetime | None = None
        self.pin_lockouts = 0  # lockouts in a row, for the escalation
        self.notification_prefs = default_notification_prefs()
        self.recognised_voices_only = False  # only voices Alexa recognises (voice profiles) may buy
        # "Send my waiting orders together": when one of the household's orders is sent, the others still
        # inside their cancel windows go with it in one delivery (docs/retailer-protocol.md, merging).
        self.send_together = False

    # -- notifications -----------------------------------------------------------------------------------
    @property
    def notify(self) -> dict:
        """The household's choices, completed with defaults for anything added since they were saved."""
        prefs = default_notification_prefs()
        saved = self.notification_prefs or {}
        prefs["channels"].update({k: bool(v) for k, v in (saved.get("channels") or {}).items() if k in NOTIFY_CHANNELS})
        prefs["topics"].update({k: bool(v) for k, v in (saved.get("topics") or {}).items() if k in NOTIFY_TOPICS})
        prefs["email"], prefs["phone"] = saved.get("email") or "", saved.get("phone") or ""
        return prefs

    def wants(self, event_name: str, channel: str) -> bool:
        """Whether news of this kind goes out on this channel (the in-app feed always gets everything)."""
        if channel == "feed":
            return True
        prefs = self.notify
        topic = TOPIC_OF_EVENT.get(event_name)
        if topic is not None and not prefs["topics"][topic]:
            return False
        if channel == "sns":  # SNS carries both the email and the text-message subscriptions
            return prefs["channels"]["email"] or prefs["channels"]["sms"]
        return prefs["channels"].get(channel, True)

    def set_notification_prefs(self, channels: dict, topics: dict, email: str = "", phone: str = "") -> None:
        unknown = (set(channels) - set(NOTIFY_CHANNELS)) | (set(topics) - set(NOTIFY_TOPICS))
        if unknown:
            raise InvalidCommand(f"Unknown notification choice {sorted(unknown)[0]!r}.", field="notifications")
        if channels.get("email") and not email:
            raise InvalidCommand("Give an email address to get emails.", field="email")
        if channels.get("sms") and not phone:
            raise InvalidCommand("Give a phone number to get text messages.", field="phone")
        self.notification_prefs = {"channels": {k: bool(v) for k, v in channels.items()},
                                   "topics": {k: bool(v) for k, v in topics.items()}, "email": email, "phone": phone}

    def cancel_window(self, channel: Channel | str) -> timedelta:
        key = Channel(channel).value
        return timedelta(seconds=int((self.cancel_windows or {}).get(key, DEFAULT_CANCEL_WINDOWS[key])))

    # -- voice PIN ---------------------------------------------------------------------------------------
    @property
    def has_pin(self) -> bool:
        return bool(self.voice_pin_hash)

    def set_pin(self, pin: str | None) -> None:
        if pin is None:
            self.voice_pin_hash = None
        else:
            if not (isinstance(pin, str) and pin.isdigit() and len(pin) == 4):
                raise InvalidCommand("The voice PIN must be four digits.", field="pin")
            salt = secrets.token_hex(8)
            self.voice_pin_hash = f"{salt}${_pin_digest(salt, pin)}"
        self.pin_failures = 0
        self.pin_locked_until = None
        self.pin_lockouts = 0

    def pin_locked(self, now: datetime) -> bool:
        locked_until = as_utc(self.pin_locked_until)
        return locked_until is not None and now < locked_until

    def check_pin(self, pin: str, now: datetime) -> bool:
        """True when right. Three wrong codes in a row lock voice purchasing: 15 minutes, then an hour, then a
        day for each further lockout with no right code in between (``PIN_LOCKOUTS``)."""
        if not self.has_pin:
            return True
        if self.pin_locked(now):
            return False
        salt, digest = (self.voice_pin_hash or "$").split("$", 1)
        if hmac.compare_digest(_pin_digest(salt, str(pin)), digest):
            self.pin_failures = 0
            self.pin_locked_until = None
            self.pin_lockouts = 0
            return True
        self.pin_failures = (self.pin_failures or 0) + 1
        if self.pin_failures >= PIN_MAX_FAILURES:
            lockout = PIN_LOCKOUTS[min(self.pin_lockouts or 0, len(PIN_LOCKOUTS) - 1)]
            self.pin_locked_until = now + lockout
            self.pin_lockouts = (self.pin_lockouts or 0) + 1
            self.pin_failures = 0
            self.events.append(events.VoicePinLocked(household_id=self.household_id,
                                                     until=iso(self.pin_locked_until) or "",
                                                     minutes=int(lockout.total_seconds() // 60)))
        return False

    def lockout_words(self) -> str:
        """How long the current lockout lasts, in words ("15 minutes", "an hour", "a day")."""
        minutes = int(PIN_LOCKOUTS[min(max((self.pin_lockouts or 1) - 1, 0), len(PIN_LOCKOUTS) - 1)]
                      .total_seconds() // 60)
        return lockout_duration_words(minutes)


def lockout_duration_words(minutes: int) -> str:
    if minutes % 1440 == 0:
        days = minutes // 1440
        return "a day" if days == 1 else f"{days} days"
    if minutes % 60 == 0:
        hours = minutes // 60
        return "an hour" if hours == 1 else f"{hours} hours"
    return "a minute" if minutes == 1 else f"{minutes} minutes"


def _pin_digest(salt: str, pin: str) -> str:
    # A four-digit PIN has 10k values: a slow KDF is what makes a leaked hash costly to reverse.
    return hashlib.pbkdf2_hmac("sha256", pin.encode(), salt.encode(), 50_000).hex()


class OrderLine:
    def __init__(self, sku: str, quantity: int, unit_price_cents: int, title: str = ""):
        if int(quantity) < 1:
            raise InvalidCommand("Quantity must be at least 1.", field="quantity")
        self.sku = sku
        self.quantity = int(quantity)
        self.unit_price_cents = int(unit_price_cents)
        self.title = title

    @property
    def total_cents(self) -> int:
        return self.quantity * self.unit_price_cents


class Order(Aggregate):
    """An order and its lifecycle: pending -> submitted -> confirmed -> shipped -> delivered (or cancelled/failed).

    ``active_key`` is set while the order is in flight for an exclusive source; a unique index on it is what
    stops a second order for the same household and source, across processes.
    """

    def __init__(self, household_id: str, channel: Channel | str, lines: list[OrderLine], *,
                 source_id: str | None = None, exclusive_source: bool = True, idempotency_key: str | None = None,
                 now: datetime | None = None, cancel_window: timedelta = timedelta(0), id: str | None = None,
                 test: bool = False, speaker: str | None = None):
        if not lines:
            raise InvalidCommand("An order needs at least one line.", field="lines")
        now = now or utcnow()
        self.id = id or new_id()
        self.household_id = household_id
        self.channel = Channel(channel).value
        self.source_id = source_id
        self.exclusive_source = exclusive_source
        self.idempotency_key = idempotency_key or self.id
        self.lines = list(lines)
        self.status = OrderStatus.PENDING.value
        self.created_at = now
        self.updated_at = now
        self.submit_after = now + cancel_window
        self.submitted_at: datetime | None = None
        self.retailer_order_id: str | None = None
        self.confirmed_at: datetime | None = None
        self.shipped_at: datetime | None = None
        self.delivered_at: datetime | None = None
        self.cancelled_at: datetime | None = None
        self.failed_at: datetime | None = None
        self.failure_reason: str | None = None
        self.tracking_url: str | None = None
        self.delivery_photo_url: str | None = None
        self.expected_delivery: datetime | None = None
        self.active_key = self.source_key(household_id, source_id) if (source_id and exclusive_source) else None
        self.test = bool(test)  # a test order (a partner integrating): never sent to the store, never charged
        self.submit_attempts = 0  # tries the store did not answer (refused for now, or the reply was lost)
        # The idempotency key of the merged retailer order this order is sent in (or was tried in), when it
        # shares one with other orders of the household; None for an order sent on its own.
        self.merge_group: str | None = None
        # The idempotency key the store is sent this order under (its own id alone, a group's key with others),
        # written before it is sent and kept: a try after a crash sends the same group under the same key.
        self.submit_key: str | None = None
        self.events = []
        self._record(events.OrderPlaced, total_cents=self.total_cents, submit_after=iso(self.submit_after),
                     test=self.test, speaker=speaker)


    @staticmethod
    def source_key(household_id: str, source_id: str) -> str:
        return f"{household_id}:{source_id}"

    @property
    def state(self) -> OrderStatus:
        return OrderStatus(self.status)

    @property
    def total_cents(self) -> int:
        return sum(line.total_cents for line in self.lines)

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE

    @property
    def can_cancel(self) -> bool:
        return self.state in CANCELLABLE

    def _record(self, event_cls, **fields) -> None:
        self.events.append(event_cls(order_id=self.id, household_id=self.household_id, channel=self.channel,
                                     source_id=self.source_id, **fields))

    def _move(self, to: OrderStatus, now: datetime) -> None:
        if to not in ALLOWED[self.state]:
            raise IllegalTransition(f"An order that is {self.status} cannot become {to.value}.",
                                    field="status", current=self.status, requested=to.value)
        self.status = to.value
        self.updated_at = now
        if to not in ACTIVE:
            self.active_key = None

    # -- transitions -----------------------------------------------------------------------------------
    def mark_submitted(self, retailer_order_id: str, now: datetime, *, together_with: tuple[str, ...] = (),
                       early: bool = False) -> None:
        """``together_with``: the other orders in the same retailer order (their products, by name); ``early``:
        sent before its own cancel window closed, because another order of the household was due."""
        self._move(OrderStatus.SUBMITTED, now)
        self.submitted_at = now
        self.retailer_order_id = retailer_order_id
        self._record(events.OrderSubmitted, retailer_order_id=retailer_order_id)
        if together_with:
            self._record(events.OrderSentTogether, retailer_order_id=retailer_order_id,
                         together_with=list(together_with), early=bool(early), submit_after=iso(self.submit_after))

    def retry_submission(self, now: datetime, delay: timedelta) -> None:
        """The store did not answer this try: the order stays pending and is due again after ``delay``."""
        if self.state is not OrderStatus.PENDING:
            raise IllegalTransition(f"An order that is {self.status} is not waiting to be sent.", field="status",
                                    current=self.status)
        self.submit_attempts = (self.submit_attempts or 0) + 1
        self.submit_after = now + delay
        self.updated_at = now

    def confirm(self, now: datetime, expected_delivery: datetime | None = None) -> None:
        self._move(OrderStatus.CONFIRMED, now)
        self.confirmed_at = now
        self.expected_delivery = expected_delivery or self.expected_delivery
        self._record(events.OrderConfirmed, expected_delivery=iso(self.expected_delivery))

    def ship(self, now: datetime, tracking_url: str | None = None, expected_delivery: datetime | None = None) -> None:
        self._move(OrderStatus.SHIPPED, now)
        self.shipped_at = now
        self.tracking_url = tracking_url or self.tracking_url
        self.expected_delivery = expected_delivery or self.expected_delivery
        self._record(events.OrderShipped, tracking_url=self.tracking_url, expected_delivery=iso(self.expected_delivery))

    def deliver(self, now: datetime, photo_url: str | None = None) -> None:
        self._move(OrderStatus.DELIVERED, now)
        self.delivered_at = now
        self.delivery_photo_url = photo_url
        self._record(events.OrderDelivered, delivery_photo_url=photo_url)

    def cancel(self, now: datetime, reason: str = "cancelled by household", speaker: str | None = None) -> None:
        if not self.can_cancel:
            raise IllegalTransition(f"This order is already {self.status} and can no longer be cancelled.",
                                    field="status", current=self.status)
        self._move(OrderStatus.CANCELLED, now)
        self.cancelled_at = now
        self._record(events.OrderCancelled, reason=reason, speaker=speaker)

    def fail(self, reason: str, now: datetime) -> None:
        self._move(OrderStatus.FAILED, now)
        self.failed_at = now
        self.failure_reason = reason
        self._record(events.OrderFailed, reason=reason)

    def advance_to(self, target: OrderStatus, now: datetime, *, tracking_url=None, expected_delivery=None,
                   photo_url=None) -> bool:
        """Walk forward to ``target`` one step at a time (each step its own event). False if nothing changed."""
        if self.state not in FORWARD or target not in FORWARD:
            return False
        current, wanted = FORWARD.index(self.state), FORWARD.index(target)
        if wanted <= current:
            return False
        for step in FORWARD[current + 1: wanted + 1]:
            if step is OrderStatus.CONFIRMED:
                self.confirm(now, expected_delivery)
            elif step is OrderStatus.SHIPPED:
                self.ship(now, tracking_url, expected_delivery)
            elif step is OrderStatus.DELIVERED:
                self.deliver(now, photo_url)
        return True

    def __repr__(self) -> str:
        return f"<Order {self.id} {self.status}>"


class Notification:
    """What a household was told, when, and through which channel (the dashboard's feed)."""

    def __init__(self, household_id: str, kind: str, message: str, channel: str = "feed",
                 order_id: str | None = None, created_at: datetime | None = None, status: str = "sent"):
        self.id = new_id()
        self.household_id = household_id
        self.kind = kind
        self.message = message
        self.channel = channel
        self.order_id = order_id
        self.status = status
        self.created_at = created_at or utcnow()
