"""Read-side shapes handed to entrypoints: plain dicts, safe to use after the session is closed."""
from __future__ import annotations

from typing import Any

from replenish.domain import model

from . import merging


def order_view(order: model.Order) -> dict[str, Any]:
    return {
        "id": order.id,
        "household_id": order.household_id,
        "status": order.status,
        "channel": order.channel,
        "source_id": order.source_id,
        "lines": [{"sku": line.sku, "title": line.title, "quantity": line.quantity,
                   "unit_price_cents": line.unit_price_cents,
                   "total_cents": line.total_cents} for line in order.lines],
        "total_cents": order.total_cents,
        "created_at": model.iso(order.created_at),
        "submit_after": model.iso(order.submit_after),
        "submitted_at": model.iso(order.submitted_at),
        "confirmed_at": model.iso(order.confirmed_at),
        "shipped_at": model.iso(order.shipped_at),
        "delivered_at": model.iso(order.delivered_at),
        "cancelled_at": model.iso(order.cancelled_at),
        "failed_at": model.iso(order.failed_at),
        "failure_reason": order.failure_reason,
        "retailer_order_id": order.retailer_order_id,
        "tracking_url": order.tracking_url,
        "delivery_photo_url": order.delivery_photo_url,
        "expected_delivery": model.iso(order.expected_delivery),
        # an order on its way (claimed, the store's answer not in yet) is cancelled once the store has it
        "can_cancel": order.can_cancel and not merging.claimed(order),
        "test": bool(getattr(order, "test", False)),
        "merged": bool(getattr(order, "merge_group", None) and order.retailer_order_id),
    }


def limits_view(limits: model.Limits) -> dict[str, Any]:
    return {
        "per_order_cap_cents": limits.per_order_cap_cents,
        "per_month_cap_cents": limits.per_month_cap_cents,
        "cancel_windows": dict(limits.cancel_windows or {}),
        "voice_pin_set": limits.has_pin,
        "recognised_voices_only": bool(getattr(limits, "recognised_voices_only", False)),
        "send_together": bool(getattr(limits, "send_together", False)),
    }
