"""Reading a household's recent orders for the voice channel: finding the one meant, and saying where it is."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from replenish.domain import model
from replenish.services.views import order_view

from . import speech
from .turn import Turn

CANCELLABLE = [s.value for s in model.CANCELLABLE]
STOP_WORDS = {"my", "the", "a", "an", "some", "of", "our", "order", "orders", "that", "this", "last", "stuff",
              "for", "me", "please", "more", "pack", "packs"}
_WORD = re.compile(r"[a-z0-9]+")
DEFAULT_DELIVERY_DAYS = 2


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def words(text: str) -> set[str]:
    return {_stem(w) for w in _WORD.findall((text or "").lower())}


def recent(turn: Turn, statuses: list[str] | None = None, limit: int = 20) -> list[dict]:
    """Order views, newest first, each with ``_words``: what the household might call its products."""
    with turn.container.uow() as uow:
        orders = [order_view(o) for o in uow.orders.list(turn.household_id, statuses=statuses, limit=limit)]
        products = uow.products.get_many({line["sku"] for o in orders for line in o["lines"]})
    for order in orders:
        found: set[str] = set()
        for line in order["lines"]:
            found |= words(line["title"]) | words(line["sku"])
            product = products.get(line["sku"])
            if product is not None:
                found |= words(product.brand) | words(product.category.replace("/", " ").replace("_", " "))
                for synonym in product.synonyms:
                    found |= words(synonym)
        order["_words"] = found
    return orders


def matching(orders: list[dict], phrases: list[str]) -> list[dict]:
    """Orders whose products answer to every meaningful word of one of ``phrases``."""
    wanted = [w for w in (words(p) - STOP_WORDS for p in phrases) if w]
    if not wanted:
        return list(orders)
    return [o for o in orders if any(w <= o["_words"] for w in wanted)]


def items(order: dict) -> str:
    parts = []
    for line in order["lines"]:
        title = line["title"] or line["sku"]
        parts.append(title if line["quantity"] == 1 else f"{line['quantity']} packs of {title}")
    return speech.join(parts)


def spoken_items(order: dict) -> str:
    """What an order holds, said briefly: one line as '2 packs of <short name>', more as '<first> and 2 more'
    (the card lists them all)."""
    lines = order["lines"]
    first = speech.short_name(lines[0]["title"] or lines[0]["sku"]) if lines else ""
    if len(lines) == 1:
        return speech.product_phrase(first, "", lines[0]["quantity"])
    return speech.and_more(first, len(lines) - 1)


def _when(value: str | None) -> datetime | None:
    return model.as_utc(datetime.fromisoformat(value)) if value else None


def _at(value: str) -> datetime:
    """A time the order has (its view gives it whenever it is asked for here)."""
    return model.as_utc(datetime.fromisoformat(value))


def arrival(turn: Turn, order: dict) -> datetime:
    """The store's date when it gave one, else an estimate from when the order leaves the cancel window."""
    expected = _when(order.get("expected_delivery"))
    if expected is not None:
        return expected
    days = DEFAULT_DELIVERY_DAYS
    start = _when(order.get("submitted_at")) or _when(order.get("submit_after")) or turn.now()
    return start + timedelta(days=days)


def arrival_words(turn: Turn, order: dict) -> str:
    return speech.day(turn.local(arrival(turn, order)), turn.today())


def cancel_minutes(order: dict) -> int:
    created, due = _when(order.get("created_at")), _when(order.get("submit_after"))
    if not created or not due:
        return 0
    return max(0, int((due - created).total_seconds() // 60))


def placed_words(turn: Turn, order: dict) -> str:
    created = turn.local(_at(order["created_at"]))
    return speech.day_at(created, turn.today())


def status_words(turn: Turn, order: dict) -> str:
    status = order["status"]
    at = ""
    if status == "pending":
        due = turn.local(_at(order["submit_after"]))
        at = speech.at_time(due, turn.today())
    elif status == "delivered" and order.get("delivered_at"):
        at = speech.day(turn.local(_at(order["delivered_at"])), turn.today())
    elif status == "cancelled" and order.get("cancelled_at"):
        at = speech.day(turn.local(_at(order["cancelled_at"])), turn.today())
    arrival_text = arrival_words(turn, order) if status in ("submitted", "confirmed", "shipped") else ""
    return speech.status_text(status, at=at, arrival=arrival_text, reason=order.get("failure_reason") or "")
