"""Read-side shapes of buttons, devices and slots (plain dicts; the slot status uses DRS field names)."""
from __future__ import annotations

from replenish.devices.domain import model as devices
from replenish.domain.model import iso


def button_view(button: devices.Button) -> dict:
    return {"serial": button.serial, "household_id": button.household_id, "sku": button.sku,
            "category": button.category, "quantity": button.quantity, "status": button.status,
            "battery": button.battery, "battery_low": button.battery_low_at is not None,
            "last_press_at": iso(button.last_press_at), "created_at": iso(button.created_at),
            "action": getattr(button, "action", None) or "order"}


def slot_view(slot: devices.Slot) -> dict:
    return {
        "slot_id": slot.slot_id, "products": list(slot.products), "sku": slot.sku, "capacity": slot.capacity,
        "unit": slot.unit, "threshold": slot.threshold, "target": slot.target, "mode": slot.mode,
        "debounce": slot.debounce,
        "status": {
            "remainingQuantityInUnit": slot.remaining, "originalQuantityInUnit": slot.original,
            "totalQuantityOnHand": slot.on_hand, "expectedReplenishmentDate": iso(slot.expected_replenishment),
            "lastUseDate": iso(slot.last_use_at), "reportedAt": iso(slot.reported_at),
        },
    }


def device_view(device: devices.Device) -> dict:
    return {"device_id": device.id, "external_id": device.external_id, "partner_id": device.partner_id,
            "household_id": device.household_id, "model": device.model, "status": device.status,
            "created_at": iso(device.created_at), "last_seen_at": iso(device.last_seen_at),
            "deregistered_at": iso(device.deregistered_at), "test": bool(device.test),
            "slots": [slot_view(s) for s in device.slots]}


def subscription_view(device: devices.Device) -> dict:
    """The DRS subscriptionInfo shape: per slot, whether it replenishes and with which product."""
    return {"slotsSubscriptionStatus": {s.slot_id: device.active and s.mode == devices.SlotMode.AUTO.value
                                        for s in device.slots},
            "slots": {s.slot_id: {"subscribed": device.active and s.mode == devices.SlotMode.AUTO.value,
                                  "mode": s.mode, "productInfo": [{"sku": s.sku}]} for s in device.slots}}
