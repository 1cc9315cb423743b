"""Consumers of events read back from the outbox: follow-up work and notifications.

Each runs inside the transaction that marks the event handled, so a redelivered message is handled once.
Nothing subscribes at import time: this module declares the core's table (``EVENT_CONSUMERS``), each feature
declares its own in its ``wiring.py``, and ``bootstrap()`` merges them into one ``EventConsumers`` per container,
which the message bus owns (``deps.consumers``).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from replenish.domain import events, model

from . import merging, messages
from .ports import Message, Recipient
from .views import order_view

if TYPE_CHECKING:
    from replenish.adapters.orm import AnyRow

    from .handlers import Deps
    from .unit_of_work import SqlAlchemyUnitOfWork

log = logging.getLogger(__name__)

# A consumer: (event, unit of work, deps). The event is of the class its name was registered with
# (``events.load``): each consumer's own signature names that class, the table only its name.
EventHandler = Callable[[Any, "SqlAlchemyUnitOfWork", "Deps"], None]
ConsumerTable = Mapping[str, Iterable[EventHandler]]


class EventConsumers:
    """Which consumers handle each event type, for one container. Built by ``bootstrap()`` from the tables the
    packages declare, merged in the order given (within an event, a consumer listed twice runs once)."""

    def __init__(self, *tables: ConsumerTable):
        self.table: dict[str, list[EventHandler]] = {}
        for table in tables:
            for event_name, handlers in table.items():
                current = self.table.setdefault(event_name, [])
                current.extend(h for h in handlers if h not in current)

    def __call__(self, event_name: str) -> list[EventHandler]:
        return self.table.get(event_name, [])

    def wanted(self, event_name: str) -> bool:
        """Whether some consumer handles this event (events nobody consumes are written as already handled)."""
        return bool(self.table.get(event_name))


def schedule_submission(event: events.OrderPlaced, uow: SqlAlchemyUnitOfWork, deps: Deps) -> None:
    """An order with no cancel window is submitted as soon as this event is handled (with any others handled
    in the same transaction, in one exchange with the store); one with a window is left to the due-orders
    sweep, which submits it when the window closes."""
    if event.test:
        return  # a test order is never sent to the store
    eta = datetime.fromisoformat(event.submit_after) if event.submit_after else None
    if eta is None or eta <= deps.clock():
        due = uow.context.setdefault("submit_now", [])
        if not due:
            uow.on_commit(lambda: submit_now(due, deps))
        due.append(event.order_id)


def submit_now(order_ids: list[str], deps: Deps) -> None:
    """Submits in this worker rather than in one more task per order. Orders the store did not answer are put
    back with a due time (the sweep tries them again); nothing here waits for the store to come back."""
    from .handlers import submit_orders
    submit_orders(order_ids, deps)


def notify_household(event: events.OrderEvent, uow: SqlAlchemyUnitOfWork, deps: Deps) -> None:
    order = uow.orders.get(event.order_id)
    if order is None or order.test:  # a partner's test orders are the partner's business, not the household's
        return
    household = uow.households.get(order.household_id)
    text = messages.order_message(event.name, order_view(order), event.payload(),
                                  household.time_zone if household else None, deps.clock())
    notify_household_of(uow, deps, order.household_id, event.name, text, order.id, {"status": order.status})


def notify_household_of(uow: SqlAlchemyUnitOfWork, deps: Deps, household_id: str, kind: str, text: str,
                        order_id: str | None = None, data: dict[str, Any] | None = None, *,
                        channels: bool = True) -> None:
    """A notice in the household's feed, and on each of its channels that it wants this kind of news on
    (``channels=False``: the feed only, when the notice goes to people on their own contacts instead)."""
    uow.notifications.add(model.Notification(household_id, kind, text, "feed", order_id, created_at=deps.clock()))
    if not channels:
        return
    message = Message(household_id, kind, text, order_id, data or {})
    household = uow.households.get(household_id)
    for notifier in deps.notifiers:
        if household is not None and not household.limits.wants(kind, notifier.channel):
            continue
        _deliver(uow, deps, message, notifier.channel, partial(notifier.send, message))


def notify_people(uow: SqlAlchemyUnitOfWork, deps: Deps, household_id: str, kind: str, text: str,
                  people: list[Recipient], order_id: str | None = None) -> int:
    """The notice to each person on their own contact, through every channel that can reach one person (SNS's
    email and text); each delivery is recorded by channel and name ("sns to Alex"), a failure too, and one
    failing stops no other. Returns how many deliveries went out."""
    message = Message(household_id, kind, text, order_id)
    sent = 0
    for notifier in deps.notifiers:
        send_to = getattr(notifier, "send_to", None)
        if send_to is None:
            continue
        for person in people:
            sent += _deliver(uow, deps, message, notifier.channel, partial(send_to, person, message), to=person.name)
    return sent


def _deliver(uow: SqlAlchemyUnitOfWork, deps: Deps, message: Message, channel: str, send: Callable[[], None],
             to: str | None = None) -> bool:
    """One delivery of a notice through ``channel`` (to the household, or to the person named ``to``), recorded
    in the household's notices as sent or failed ("sns", "sns to Alex"); a failure is logged (without the
    person's name) and stops no other delivery, nor the feed. Returns whether it went out."""
    status = "sent"
    try:
        send()
    except Exception as exc:  # one channel failing must not stop the others or the feed
        log.warning("notifier %s failed for %s%s: %s", channel, "a member of " if to else "",
                    message.order_id or message.household_id, exc)
        status = "failed"
    recorded = f"{channel} to {to}"[:80] if to else channel
    uow.notifications.add(model.Notification(message.household_id, message.kind, message.text, recorded,
                                             message.order_id, created_at=deps.clock(), status=status))
    return status == "sent"


def notify_pin_locked(event: events.VoicePinLocked, uow: SqlAlchemyUnitOfWork, deps: Deps) -> None:
    text = (f"Someone said a wrong voice PIN three times in a row, so ordering by voice is locked for "
            f"{model.lockout_duration_words(event.minutes)}. If that was not you, change the PIN in Settings.")
    notify_household_of(uow, deps, event.household_id, event.name, text)


ORDER_NEWS = ("OrderPlaced", "OrderConfirmed", "OrderShipped", "OrderDelivered", "OrderCancelled", "OrderFailed")
EVENT_CONSUMERS: dict[str, list[EventHandler]] = {
    "OrderPlaced": [schedule_submission],
    "VoicePinLocked": [notify_pin_locked],
    "OrderSentTogether": [merging.notify_sent_together],
}
for _name in ORDER_NEWS:
    EVENT_CONSUMERS.setdefault(_name, []).append(notify_household)


def _run_consumers(rows: Sequence[AnyRow], uow: SqlAlchemyUnitOfWork, deps: Deps) -> None:
    loaded = [(row, events.load(row.event_type, row.payload)) for row in rows]
    order_ids = {order_id for _, event in loaded if (order_id := getattr(event, "order_id", None)) is not None}
    if len(order_ids) > 1:  # one query for the orders (and one for their households) the consumers will read;
        # kept referenced for the transaction, as the session's identity map holds objects only weakly
        orders = uow.orders.get_many(order_ids)
        uow.context["prefetched"] = (orders, uow.households.get_many(o.household_id for o in orders))
    for row, event in loaded:
        for handler in deps.consumers(row.event_type):
            handler(event, uow, deps)


def handle_event(event_id: int, deps: Deps) -> str:
    with deps.uow() as uow:
        row = uow.outbox.claim(event_id, deps.clock())
        if row is None:
            return "already_handled"
        _run_consumers([row], uow, deps)
        uow.commit()
        return "handled"


def handle_batch(deps: Deps, limit: int) -> int:
    """Claims up to ``limit`` unhandled events and runs their consumers in one transaction. If that fails, each
    is tried on its own, and one that still fails waits (with backoff) rather than holding up the others.
    Returns how many events were taken."""
    with deps.uow() as uow:
        rows = uow.outbox.claim_batch(limit, deps.clock())
        if not rows:
            return 0
        try:
            _run_consumers(rows, uow, deps)
            uow.commit()
            return len(rows)
        except Exception:
            log.exception("a batch of %d events failed; handling them one by one", len(rows))
    for row in rows:
        try:
            handle_event(row.id, deps)
        except Exception:
            log.exception("event %s (%s) failed; it will be tried again later", row.id, row.event_type)
            with deps.uow() as uow:
                uow.outbox.postpone(row.id, deps.clock())
                uow.session.commit()
    return len(rows)


def drain_outbox(deps: Deps, batch: int | None = None, max_batches: int = 50, linger: float | None = None) -> int:
    """Handles unhandled events in batches until none are left. Busy outboxes get more drains: whenever a full
    batch is taken, another worker is asked to join in (the queue coalesces such requests).

    ``linger`` (seconds, ``OUTBOX_LINGER_MS``) is waited before the first claim, while requests for a drain
    are still coalesced into this one: under load, events committed meanwhile join the batch, so the fixed
    cost of a drain (a task, three commits, one exchange with the store) is shared by many orders rather than
    paid by each. Orders wait that long at most; there is no wait once a drain is under way."""
    batch = batch or deps.settings.outbox_batch
    linger = deps.settings.outbox_linger_seconds if linger is None else linger
    if linger > 0:
        time.sleep(linger)
    deps.queue.drain_started()
    total = 0
    for _ in range(max_batches):
        taken = handle_batch(deps, batch)
        total += taken
        if taken < batch:
            return total
        deps.queue.handle_events([])
    return total


def dispatch(event_ids: list[int], deps: Deps) -> None:
    """Hands freshly committed events to the queue. Nothing is written: an event that never arrives stays
    unhandled in the outbox, and the relay hands it over again after the grace period."""
    if event_ids:
        deps.queue.handle_events(list(event_ids))


# -- periodic jobs ----------------------------------------------------------------------------------------

def relay_outbox(deps: Deps, grace: timedelta | None = None) -> int:
    """Hands over again events committed but not handled after ``grace`` (the broker was down, a process
    died between commit and send). A duplicate is harmless: handling claims the event once."""
    grace = timedelta(seconds=deps.settings.relay_grace_seconds) if grace is None else grace
    with deps.uow() as uow:
        ids = uow.outbox.unhandled(deps.clock() - grace)
        uow.outbox.mark_dispatched(ids, deps.clock())
        uow.session.commit()
    dispatch(ids, deps)
    return len(ids)


def submit_due(deps: Deps, budget: float | None = None) -> int:
    """The due-orders sweep: submits, in batches of ``outbox_batch``, pending orders whose cancel window has
    closed, any that a dead worker left behind, and those the store did not answer whose next try is due. Runs
    for at most ``budget`` seconds (two sweep intervals by default); what is left goes to the next sweep, or to
    a concurrent one (each locks its batch and skips the others'). Fresh orders wait ``submit_grace_seconds``
    so the worker handling their event gets there first. Returns how many orders were taken."""
    from .handlers import submit_due_batch
    settings = deps.settings
    budget = 2 * settings.sweep_interval_seconds if budget is None else budget
    grace = timedelta(seconds=settings.submit_grace_seconds)
    deadline = time.monotonic() + budget
    total = 0
    while True:
        taken = submit_due_batch(deps, grace, settings.outbox_batch)
        total += taken
        if taken < settings.outbox_batch or time.monotonic() >= deadline:
            return total


def track_in_transit(deps: Deps) -> int:
    with deps.uow() as uow:
        ids = uow.orders.in_transit(deps.clock() - timedelta(seconds=deps.settings.track_interval_seconds))
    for order_id in ids:
        deps.queue.track_order(order_id)
    return len(ids)
