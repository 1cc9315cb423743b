"""What the household is told. Kept apart from logic so the words can change without touching a handler."""
from __future__ import annotations


def money(cents: int) -> str:
    return f"${cents / 100:,.2f}"


def describe_lines(order: dict) -> str:
    parts = []
    for line in order["lines"]:
        title = line["title"] or line["sku"]
        parts.append(title if line["quantity"] == 1 else f"{line['quantity']} x {title}")
    return ", ".join(parts)


TEMPLATES = {
    "OrderPlaced": "Ordered {items} for {total}. You can cancel until {submit_after}.",
    "OrderSubmitted": "Your order of {items} was sent to the store.",
    "OrderConfirmed": "The store confirmed your order of {items}.",
    "OrderShipped": "Your order of {items} has shipped.",
    "OrderDelivered": "Your order of {items} was delivered.",
    "OrderCancelled": "Your order of {items} was cancelled ({reason}).",
    "OrderFailed": "Your order of {items} could not be placed: {reason}.",
}


def order_message(event_type: str, order: dict, payload: dict) -> str:
    return TEMPLATES[event_type].format(items=describe_lines(order), total=money(order["total_cents"]),
                                        submit_after=payload.get("submit_after") or "now",
                                        reason=payload.get("reason") or "no reason given")


def limit_per_order(total: int, cap: int) -> str:
    return f"That order comes to {money(total)}, which is over your limit of {money(cap)} per order."


def limit_per_month(total: int, spent: int, cap: int) -> str:
    return (f"That order comes to {money(total)}. You have already spent {money(spent)} this month, "
            f"and your monthly limit is {money(cap)}.")
