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


def duration_words(seconds: float) -> str:
    """'40 seconds', 'a minute', '12 minutes', 'an hour', '2 hours' (rounded to the unit it is said in)."""
    seconds = max(0, round(seconds))
    for size, one, many in ((86400, "a day", "days"), (3600, "an hour", "hours"), (60, "a minute", "minutes")):
        if seconds >= size:
            count = round(seconds / size)
            return one if count == 1 else f"{count} {many}"
    return "a second" if seconds == 1 else f"{seconds} seconds"


def store_gave_up(tries: int, seconds: float) -> str:
    """Why an order failed when the store never answered (the household hears it after its items' names)."""
    return (f"the store did not answer, though we tried {tries} time{'s' if tries != 1 else ''} over "
            f"{duration_words(seconds)}")
