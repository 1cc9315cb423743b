"""Consumers of events read back from the outbox: follow-up work and notifications.

Each runs inside the transaction that marks the event handled, so a redelivered message is handled once.
Other packages add consumers with ``subscribe`` (the partner webhooks do).
"""
from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Callable

from replenish.domain import events, model

from . import messages
from .ports import Message
from .views import order_view

log = logging.getLogger(__name__)

EventHandler = Callable[[events.Event, object, object], None]
SUBSCRIBERS: dict[str, list[EventHandler]] = defaultdict(list)


def subscribe(event_name: str, handler: EventHandler) -> None:
    if handler not in SUBSCRIBERS[event_name]:
        SUBSCRIBERS[event_name].append(handler)


def has_subscribers(event_name: str) -> bool:
    return bool(SUBSCRIBERS.get(event_name))


def schedule_submission(event: events.OrderPlaced, uow, deps) -> None:
    """An order with no cancel window is submitted as soon as this event is handled; one with a window is
    left to the due-orders sweep, which submits it when the window closes."""
    eta = datetime.fromisoformat(event.submit_after) if event.submit_after else None
    if eta is None or eta <= deps.clock():
        uow.on_commit(lambda: submit_now(event.order_id, deps))


def submit_now(order_id: str, deps) -> None:
    """Submits in this worker rather than in one more task; a store that is not answering gets the
    submit task's retries with backoff instead."""
    from replenish.domain import commands
    from .handlers import submit_order
    from .ports import TransientError
    try:
        submit_order(commands.SubmitOrder(order_id), deps)
    except TransientError:
        log.warning("store not answering for %s; retrying in the background", order_id)
        deps.queue.submit_order(order_id)


def notify_household(event: events.OrderEvent, uow, deps) -> None:
    order = uow.orders.get(event.order_id)
    if order is None:
        return
    text = messages.order_message(event.name, order_view(order), event.payload())
    kind = event.name
    uow.notifications.add(model.Notification(order.household_id, kind, text, "feed", order.id,
                                             created_at=deps.clock()))
    message = Message(order.household_id, kind, text, order.id, {"status": order.status})
    household = uow.households.get(order.household_id)
    for notifier in deps.notifiers:
        if household is not None and not household.limits.wants(kind, notifier.channel):
            continue
        status = "sent"
        try:
            notifier.send(message)
        except Exception as exc:  # one channel failing must not stop the others or the feed
            log.warning("notifier %s failed for %s: %s", notifier.channel, order.id, exc)
            status = "failed"
        uow.notifications.add(model.Notification(order.household_id, kind, text, notifier.channel, order.id,
                                                 created_at=deps.clock(), status=status))


subscribe("OrderPlaced", schedule_submission)
for _name in ("OrderPlaced", "OrderConfirmed", "OrderShipped", "OrderDelivered", "OrderCancelled", "OrderFailed"):
    subscribe(_name, notify_household)


def handle_event(event_id: int, deps) -> str:
    with deps.uow() as uow:
        row = uow.outbox.claim(event_id, deps.clock())
        if row is None:
            return "already_handled"
        event = events.load(row.event_type, row.payload)
        for handler in SUBSCRIBERS.get(row.event_type, []):
            handler(event, uow, deps)
        uow.commit()
        return "handled"


def dispatch(event_ids: list[int], deps) -> None:
    """Hands freshly committed events to the queue. Nothing is written: an event that never arrives stays
    unhandled in the outbox, and the relay hands it over again after the grace period."""
    for event_id in event_ids:
        deps.queue.handle_event(event_id)


# -- periodic jobs ----------------------------------------------------------------------------------------

def relay_outbox(deps, grace: timedelta | None = None) -> int:
    """Hands over again events committed but not handled after ``grace`` (the broker was down, a process
    died between commit and send). A duplicate is harmless: handling claims the event once."""
    grace = timedelta(seconds=deps.settings.relay_grace_seconds) if grace is None else grace
    with deps.uow() as uow:
        ids = uow.outbox.unhandled(deps.clock() - grace)
        uow.outbox.mark_dispatched(ids, deps.clock())
        uow.session.commit()
    dispatch(ids, deps)
    return len(ids)


def submit_due(deps) -> int:
    """Submits pending orders whose cancel window has closed, and any that a dead worker left behind. The
    grace keeps it from racing a submission that is already under way (harmless, but wasted)."""
    with deps.uow() as uow:
        ids = uow.orders.due_for_submission(deps.clock() - timedelta(seconds=deps.settings.submit_grace_seconds))
    for order_id in ids:
        deps.queue.submit_order(order_id)
    return len(ids)


def track_in_transit(deps) -> int:
    with deps.uow() as uow:
        ids = uow.orders.in_transit(deps.clock() - timedelta(seconds=deps.settings.track_interval_seconds))
    for order_id in ids:
        deps.queue.track_order(order_id)
    return len(ids)
