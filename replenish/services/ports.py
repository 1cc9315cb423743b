"""Interfaces to outside services; bootstrap chooses each backend from configuration."""
from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


class TransientError(Exception):
    """Worth retrying later: a timeout, a refused connection, a 5xx."""

    #: What a person is told (the API's 503, the dashboard's flash): the store by default; a busy lock says so.
    public_message = "The store is not answering; try again shortly."


class PermanentError(Exception):
    """Retrying will not help: the retailer said no."""


@dataclass(frozen=True)
class SubmitLine:
    sku: str
    quantity: int
    unit_price_cents: int


@dataclass(frozen=True)
class SubmitPart:
    """One of our orders inside a merged submission: its id and its own lines."""
    order_id: str
    lines: tuple[SubmitLine, ...]


@dataclass(frozen=True)
class SubmitRequest:
    idempotency_key: str
    household_id: str
    address: str
    lines: tuple[SubmitLine, ...]
    # A merged submission (several of the household's orders in one retailer order): each order's id and lines.
    # ``lines`` then holds all of them; empty for a single order (its id is the idempotency key).
    parts: tuple[SubmitPart, ...] = ()


@dataclass(frozen=True)
class SubmitResult:
    accepted: bool
    retailer_order_id: str | None = None
    reason: str | None = None  # why refused (e.g. out of stock)
    # Which of our orders the retailer's booking holds (for a key seen before: those of the first booking);
    # None when the retailer did not say (then it booked what it was sent).
    order_ids: tuple[str, ...] | None = None


@dataclass(frozen=True)
class RetailerStatus:
    status: str  # submitted | confirmed | shipped | delivered | cancelled
    tracking_url: str | None = None
    expected_delivery: datetime | None = None
    delivery_photo_url: str | None = None


class FulfillmentGateway(Protocol):
    def submit(self, request: SubmitRequest) -> SubmitResult: ...

    # Optional: ``submit_many(requests) -> list[SubmitResult | TransientError]``, one answer per request in
    # order, for a store that can take several orders in one exchange (``submit_all`` falls back to ``submit``).

    def status(self, retailer_order_id: str) -> RetailerStatus: ...

    def cancel(self, retailer_order_id: str) -> bool: ...

    # Optional: ``cancel_lines(retailer_order_id, order_ids) -> bool``: takes the lines of some of the orders
    # of a merged retailer order off it (True), or cannot any more (False: it has shipped). Without it, an order
    # sent together with others cannot be cancelled once sent.


@dataclass(frozen=True)
class Message:
    household_id: str
    kind: str  # order_placed, order_shipped, ...
    text: str
    order_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Recipient:
    """One person told on their own contact rather than the household's (a member: approval notices)."""
    key: str  # who, for good (a member's id): their own channel is made for this key
    name: str  # what the notice's record says it went to ("sns to Alex")
    email: str | None = None
    phone: str | None = None  # E.164


class Notifier(Protocol):
    """Delivers a message through one channel; returns the channel's name for the feed."""

    channel: str

    def send(self, message: Message) -> None: ...

    # Optional: ``send_to(recipient, message)`` delivers to one person's own contact instead of the household's
    # (SNS: email and text); ``reach(recipient)`` sets that contact up ahead of the first message (an email
    # address confirms its subscription first) and ``unreach(key)`` takes it down.


def submit_all(gateway: FulfillmentGateway, requests: list[SubmitRequest]) -> list[SubmitResult | TransientError]:
    """One answer per request, in order: a SubmitResult, or the TransientError that request met (the others
    still go through). Any other error propagates. An acceptance without the store's order id is a
    TransientError: the order could not be tracked, so it is tried again (the store finds its booking by key)."""
    if not requests:
        return []
    many = getattr(gateway, "submit_many", None)
    if many is not None:
        return [_checked(answer) for answer in many(requests)]
    answers: list[SubmitResult | TransientError] = []
    for request in requests:
        try:
            answers.append(_checked(gateway.submit(request)))
        except TransientError as exc:
            answers.append(exc)
    return answers


def _checked(answer: SubmitResult | TransientError) -> SubmitResult | TransientError:
    if isinstance(answer, SubmitResult) and answer.accepted and not answer.retailer_order_id:
        return TransientError("the store accepted the order without giving its order id")
    return answer


class TaskQueue(Protocol):
    def handle_event(self, event_id: int) -> None: ...

    def handle_events(self, event_ids: list[int]) -> None:
        """Committed events that consumers must handle (a queue may coalesce these into batch work)."""

    def drain_started(self) -> None:
        """A worker has begun draining the outbox (a queue that coalesces requests may send again)."""

    def submit_order(self, order_id: str, eta: datetime | None = None) -> None: ...

    def track_order(self, order_id: str, countdown: float = 0) -> None: ...

    def send(self, task_name: str, *args: object) -> None:
        """Any other task by its name (a feature's own: a partner webhook's delivery)."""


class Locks(Protocol):
    """Named locks across processes. ``hold`` waits up to ``wait`` seconds for the lock (then raises a
    TransientError); ``timeout`` is how long it lives if its holder dies. What the context gives is the adapter's
    handle (whether a lock is actually held)."""

    def hold(self, name: str, timeout: float = 10.0, wait: float = 5.0) -> AbstractContextManager[object]: ...
