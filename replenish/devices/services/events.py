"""Consumers of button and device events, and of order events of appliance slots: household notifications
and partner webhooks (logged in ``webhook_deliveries``, sent by a Celery task with retries and backoff)."""
from __future__ import annotations

import json
import logging
from datetime import datetime

from replenish.devices.domain import model as devices
from replenish.devices.domain.slots import amount_words
from replenish.domain import events
from replenish.domain.model import iso, new_id
from replenish.services import event_handlers, messages
from replenish.services.ports import PermanentError, TransientError
from replenish.services.views import order_view

log = logging.getLogger(__name__)

WEBHOOK_TASK = "replenish.devices.tasks.deliver_webhook"
MAX_ATTEMPTS = 10
WEBHOOK_TYPES = {
    "OrderPlaced": "order.placed", "OrderCancelled": "order.cancelled", "OrderShipped": "order.shipped",
    "OrderDelivered": "order.delivered", "SubscriptionChanged": "subscription.changed",
    "DeviceDeregistered": "device.deregistered", "DeviceRegistered": "device.registered",
    "SlotRunningLow": "slot.low", "SlotOrderRefused": "order.refused",
}


# -- household notifications -------------------------------------------------------------------------------

_notify = event_handlers.notify_household_of  # the feed, and the household's channels for this kind of news


def battery_low(event: devices.ButtonBatteryLow, uow, deps) -> None:
    button = uow.devices.button(event.serial)
    what = _button_name(uow, button)
    _notify(uow, deps, event.household_id, event.name,
            f"The battery of {what} is low ({devices.battery_words(event.battery)}); replace it soon.")


STATUS_WORDS = {"pending": "waiting to be sent to the store", "submitted": "with the store",
                "confirmed": "confirmed by the store", "shipped": "on its way", "delivered": "delivered",
                "cancelled": "cancelled", "failed": "not placed"}


def button_status(event: devices.ButtonStatusRequested, uow, deps) -> None:
    button = uow.devices.button(event.serial)
    what = _button_name(uow, button)
    if event.order_id:
        order = uow.orders.get(event.order_id)
        items = messages.describe_lines(order_view(order)) if order is not None else "its order"
        status = STATUS_WORDS.get(event.order_status or "", event.order_status or "")
        text = f"The order from {what} ({items}) is {status}."
    else:
        text = f"Nothing ordered from {what} is on its way."
    _notify(uow, deps, event.household_id, event.name, text, event.order_id)


def slot_low(event: devices.SlotRunningLow, uow, deps) -> None:
    device = uow.devices.device(event.device_id)
    model_name = (device.model if device else "") or "appliance"
    product = _slot_product(uow, device, event.slot_id)
    text = (f"Your {model_name} is running low on {product} ({amount_words(event.remaining, event.unit)} left)."
            if not event.reason.startswith("could not order") else
            f"Your {model_name} is running low on {product}, but we {event.reason}.")
    _notify(uow, deps, event.household_id, event.name, text)


def press_refused(event: devices.ButtonPressRefused, uow, deps) -> None:
    button = uow.devices.button(event.serial)
    what = _button_product(uow, button) if button is not None else "its product"
    _notify(uow, deps, event.household_id, event.name,
            f"Your button for {what} was pressed, but nothing was ordered: {event.reason}")


def _button_name(uow, button) -> str:
    """A button as the household knows it: by what it orders ("your Tide Pods button")."""
    return f"your {_button_product(uow, button)} button" if button is not None else "your button"


def _button_product(uow, button) -> str:
    if button.sku:
        product = uow.products.get(button.sku)
        return product.title if product is not None else "its product"
    return button.category or "its product"


def slot_order_refused(event: devices.SlotOrderRefused, uow, deps) -> None:
    device = uow.devices.device(event.device_id)
    if event.tell_household:
        model_name = (device.model if device else "") or "appliance"
        _notify(uow, deps, event.household_id, event.name,
                f"Your {model_name} asked to reorder {_slot_product(uow, device, event.slot_id)}, but nothing was "
                f"ordered: {event.reason}")
    data = {"device_id": event.device_id, "external_id": device.external_id if device else None,
            "slot_id": event.slot_id, "code": event.code, "reason": event.reason}
    queue_webhook(uow, deps, uow.devices.partner(event.partner_id), WEBHOOK_TYPES[event.name],
                  f"{event.name}:{event.device_id}:{event.slot_id}:{new_id()}", data)


def _slot_product(uow, device, slot_id: str) -> str:
    try:
        sku = device.slot(slot_id).sku
    except Exception:
        return "one of its consumables"
    product = uow.products.get(sku)
    return product.title if product is not None else sku


# -- partner webhooks --------------------------------------------------------------------------------------

def _slot_of(source_id: str | None) -> tuple[str, str] | None:
    if not source_id or not source_id.startswith("slot:"):
        return None
    _, device_id, slot_id = source_id.split(":", 2)
    return device_id, slot_id


def _enqueue_after_commit(uow, deps, delivery_id: str) -> None:
    """The task is sent only once the delivery row is committed (a worker must be able to read it)."""
    def send():
        try:
            deps.queue.send(WEBHOOK_TASK, delivery_id)
        except Exception:
            log.exception("could not enqueue webhook %s; the sweep will send it", delivery_id)
    uow.on_commit(send)


def queue_webhook(uow, deps, partner, event_type: str, event_key: str, data: dict) -> str | None:
    if partner is None or not partner.webhook_url or partner.revoked_at is not None:
        return None
    delivery_id = new_id()
    payload = {"id": f"evt_{delivery_id}", "type": event_type, "created_at": iso(deps.clock()), "data": data}
    added = uow.webhooks.add(partner.id, event_key, event_type, partner.webhook_url, payload, deps.clock(),
                             delivery_id=delivery_id)
    if added:
        _enqueue_after_commit(uow, deps, added)
    return added


def order_webhook(event: events.OrderEvent, uow, deps) -> None:
    slot_ref = _slot_of(event.source_id)
    if slot_ref is None:
        return
    device = uow.devices.device(slot_ref[0])
    if device is None:
        return
    order = uow.orders.get(event.order_id)
    data = {"device_id": device.id, "external_id": device.external_id, "slot_id": slot_ref[1],
            "order_id": event.order_id, "status": order.status if order else None,
            "test": bool(order.test) if order else False,
            "lines": [{"sku": line.sku, "quantity": line.quantity} for line in order.lines] if order else [],
            "reason": getattr(event, "reason", None), "tracking_url": getattr(event, "tracking_url", None),
            "expected_delivery": getattr(event, "expected_delivery", None)}
    queue_webhook(uow, deps, uow.devices.partner(device.partner_id), WEBHOOK_TYPES[event.name],
                  f"{event.name}:{event.order_id}", data)


def device_webhook(event, uow, deps) -> None:
    device = uow.devices.device(event.device_id)
    data = {"device_id": event.device_id, "external_id": device.external_id if device else None}
    if isinstance(event, devices.SlotRunningLow):
        data.update(slot_id=event.slot_id, remaining=event.remaining, unit=event.unit, reason=event.reason)
        key = f"{event.name}:{event.device_id}:{event.slot_id}:{new_id()}"
    elif isinstance(event, devices.DeviceRegistered):
        data.update(household_id=event.household_id)
        key = f"{event.name}:{event.device_id}"
    elif isinstance(event, devices.SubscriptionChanged):
        data.update(slot_id=event.slot_id, mode=event.mode, sku=event.sku,
                    subscribed=event.mode == devices.SlotMode.AUTO.value)
        key = f"{event.name}:{event.device_id}:{event.slot_id}:{new_id()}"  # the outbox already runs it once
    else:
        data.update(reason=getattr(event, "reason", ""))
        key = f"{event.name}:{event.device_id}"
    queue_webhook(uow, deps, uow.devices.partner(event.partner_id), WEBHOOK_TYPES[event.name], key, data)


def webhook_body(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def deliver_webhook(delivery_id: str, deps, sender=None, now: datetime | None = None) -> str:
    """One attempt. "delivered" or "failed" are final; a transient failure is logged, then raised so the
    task retries with backoff (until MAX_ATTEMPTS, when the delivery is marked failed)."""
    from replenish.devices.adapters.webhook_sender import (
        HttpWebhookSender,
        webhook_headers,
    )
    sender = sender or getattr(deps, "webhook_sender", None) or HttpWebhookSender()
    now = now or deps.clock()
    with deps.uow() as uow:
        row = uow.webhooks.get(delivery_id)
        if row is None:
            return "missing"
        if row.status != "pending":
            return row.status
        partner = uow.devices.partner(row.partner_id)
        secrets = list(partner.webhook_secrets or []) if partner else []
        if not secrets or partner.revoked_at is not None:  # nothing it could verify: never sent unsigned
            uow.webhooks.record_attempt(delivery_id, now, status="failed", status_code=None,
                                        error="the partner has no webhook secret (or was revoked)")
            uow.commit()
            return "failed"
        body = webhook_body(row.payload)
        # Standard Webhooks: webhook-id is the delivery's (the same on every retry), webhook-timestamp this
        # attempt's time, one signature per live secret of the partner.
        headers = {"Content-Type": "application/json", "User-Agent": "Replenish-Webhooks/1",
                   **webhook_headers(secrets, f"msg_{row.id}", body, now), "X-Replenish-Event": row.event_type}
        error, code = None, None
        try:
            code = sender.post(row.url, body, headers)
        except TransientError as exc:
            error = str(exc)
        except PermanentError as exc:
            uow.webhooks.record_attempt(delivery_id, now, status="failed", status_code=None, error=str(exc))
            uow.commit()
            return "failed"
        if code is not None and 200 <= code < 300:
            outcome = "delivered"
        elif code is not None and 400 <= code < 500 and code not in (408, 409, 425, 429):
            outcome = "failed"  # the partner refuses it: retrying will not help
        else:
            outcome = "failed" if row.attempts + 1 >= MAX_ATTEMPTS else "pending"
            error = error or f"HTTP {code}"
        uow.webhooks.record_attempt(delivery_id, now, status=outcome, status_code=code, error=error)
        uow.commit()
    if outcome == "pending":
        raise TransientError(f"webhook {delivery_id} not delivered yet: {error}")
    return outcome


def resend_pending(deps) -> int:
    """Safety net: re-enqueues deliveries still pending (the broker was down when they were made)."""
    with deps.uow() as uow:
        ids = uow.webhooks.pending()
    for delivery_id in ids:
        deps.queue.send(WEBHOOK_TASK, delivery_id)
    return len(ids)


# The feature's event consumers (household notices, partner webhooks); bootstrap merges them after the core's.
EVENT_CONSUMERS: dict[str, list] = {
    "ButtonBatteryLow": [battery_low],
    "ButtonStatusRequested": [button_status],
    "SlotRunningLow": [slot_low, device_webhook],
    "ButtonPressRefused": [press_refused],
    "SlotOrderRefused": [slot_order_refused],
}
for _name in ("OrderPlaced", "OrderCancelled", "OrderShipped", "OrderDelivered"):
    EVENT_CONSUMERS.setdefault(_name, []).append(order_webhook)
for _name in ("SubscriptionChanged", "DeviceDeregistered", "DeviceRegistered"):
    EVENT_CONSUMERS.setdefault(_name, []).append(device_webhook)
