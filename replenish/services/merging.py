"""Fewer deliveries: a household's orders that go to the store at the same time go as one retailer order.

When orders are sent (the due-orders sweep, a worker's ``submit_now``, ``submit_order``), the due ones not claimed
yet are grouped per household and each group is **claimed**: its key (``Order.submit_key``: an order alone keeps
its own id, several share a new key) is written on its orders and committed before anything is sent. Sending is a
second transaction that locks a claimed group whole and sends it under its key; a try after a crash or a lost
reply sends the same orders under the same key, so the store books each order once. A household that chose
"send my waiting orders together" (``Limits.send_together``, off by default) also sends its orders still inside
their cancel windows with the first one that is due; each such order's notice says it went early, and it can
still be cancelled until the deadline it was given: the store is asked to take its lines off the shared order
(``cancel_lines``), which works until the store ships. Test orders are never sent, so never merged; an order a
cap refused was never placed. docs/retailer-protocol.md ("Orders sent together") has the protocol side.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from replenish.domain import events, model

from . import messages
from .ports import SubmitLine, SubmitPart, SubmitRequest

if TYPE_CHECKING:
    from .handlers import Deps
    from .unit_of_work import SqlAlchemyUnitOfWork


def group_key(order: model.Order, merge: bool = True) -> tuple[str, str]:
    """How orders not claimed yet are grouped: by household, or, with merging off, each alone."""
    if not merge:
        return ("alone", order.id)
    return ("household", order.household_id)


def joiners(uow: SqlAlchemyUnitOfWork, due: list[model.Order], households: dict[str, model.Household],
            merge: bool = True) -> list[model.Order]:
    """Orders not claimed yet that go with ``due`` (locked here): for the households that chose to send their
    waiting orders together, their orders still inside their windows."""
    if not merge:
        return []
    together = {o.household_id for o in due
                if getattr(households.get(o.household_id) and households[o.household_id].limits,
                           "send_together", False)}
    return uow.orders.waiting_to_join(together, {o.id for o in due}) if together else []


MAX_ORDERS = 10  # of ours in one retailer order: a household's backlog goes as several, not as one huge order


def groups(orders: Iterable[model.Order], merge: bool = True) -> list[list[model.Order]]:
    """The retailer orders to make of orders not claimed yet: each a list of up to ``MAX_ORDERS`` of our
    orders, the ones due first first."""
    by_key: dict[tuple[str, str], list[model.Order]] = {}
    for order in orders:
        by_key.setdefault(group_key(order, merge), []).append(order)
    made = []
    for members in by_key.values():
        members.sort(key=lambda o: (model.as_utc(o.submit_after), model.as_utc(o.created_at), o.id))
        made += [members[i:i + MAX_ORDERS] for i in range(0, len(members), MAX_ORDERS)]
    return made


def claim(group: list[model.Order]) -> str:
    """Decides the key ``group`` goes to the store under, once, and writes it on each of its orders (the caller
    commits that before anything is sent): an order alone keeps its own id (sent exactly as before merging
    existed), several share a new key. Every later try sends the orders sharing the key, under that key; no
    other order joins them, and none of them joins another group, so the store never sees one order under two
    keys. Returns the key."""
    key = group[0].id if len(group) == 1 else model.new_id()
    for order in group:
        order.submit_key = key
    return key


def claimed(order: model.Order) -> bool:
    """Whether the order is on its way: its key is written and the store has not answered for it yet."""
    return bool(order.submit_key) and order.state is model.OrderStatus.PENDING


def retailer_key(group: list[model.Order]) -> str:
    """The idempotency key the group's retailer order is sent under: the one it was claimed under."""
    return group[0].submit_key or group[0].id


def _lines(order: model.Order) -> tuple[SubmitLine, ...]:
    return tuple(SubmitLine(line.sku, line.quantity, line.unit_price_cents) for line in order.lines)


def request_for(group: list[model.Order], household: model.Household | None) -> SubmitRequest:
    """What the store is sent for a claimed group: the same request on every try (its parts in the order the
    orders were placed, its lines those of its orders, which never change)."""
    address = household.address if household else ""
    key = retailer_key(group)
    if len(group) == 1 and key == group[0].id:
        order = group[0]
        return SubmitRequest(order.id, order.household_id, address, _lines(order))
    group = sorted(group, key=lambda o: (model.as_utc(o.created_at), o.id))
    parts = tuple(SubmitPart(order.id, _lines(order)) for order in group)
    return SubmitRequest(key, group[0].household_id, address, tuple(line for part in parts for line in part.lines),
                         parts)


def products(order: model.Order) -> str:
    """An order's products by name, as a person would list them ("2 x Tide PODS and Bounty Paper Towels")."""
    names = [(line.title or line.sku) if line.quantity == 1 else f"{line.quantity} x {line.title or line.sku}"
             for line in order.lines]
    return messages.and_list(names)


def together_words(others: Iterable[model.Order]) -> str:
    """"your order of Bounty Paper Towels" / "your orders of A and of B"."""
    names = [products(o) for o in others]
    if not names:
        return ""
    if len(names) == 1:
        return f"your order of {names[0]}"
    return "your orders of " + ", of ".join(names[:-1]) + " and of " + names[-1]


def deliveries_saved(uow: SqlAlchemyUnitOfWork, household_id: str, since: datetime) -> int:
    """Deliveries the household was spared since ``since`` by orders sent together (for the orders page and
    the weekly digest): each retailer order that carried n of its orders (not cancelled) counts n - 1."""
    return uow.orders.deliveries_saved(household_id, since)


def sent_together(uow: SqlAlchemyUnitOfWork, household_id: str, orders: list[model.Order]) -> dict[str, str]:
    """For each of ``orders`` sent in a retailer order with others of the household: those others' products
    ("Bounty Paper Towels and 2 x Tide PODS"), by order id."""
    merged = [o for o in orders if o.merge_group and o.retailer_order_id]
    if not merged:
        return {}
    by_retailer: dict[str | None, list[model.Order]] = {}
    for order in uow.orders.sharing_retailer_orders(household_id, (o.retailer_order_id for o in merged)):
        by_retailer.setdefault(order.retailer_order_id, []).append(order)
    said = {}
    for order in merged:
        others = [o for o in by_retailer.get(order.retailer_order_id, [])  # those taken off since: not said
                  if o.id != order.id and o.status not in ("cancelled", "failed")]
        if others:
            said[order.id] = " and ".join(products(o) for o in others)
    return said


def sent_together_notice(event: events.OrderSentTogether, order: model.Order, time_zone: str | None, now: datetime
                         ) -> str:
    """What the household is told when one of its orders went to the store in one delivery with others."""
    from . import messages
    others = list(event.together_with or [])
    with_words = ("your order of " + others[0]) if len(others) == 1 else \
        "your orders of " + ", of ".join(others[:-1]) + " and of " + others[-1]
    text = f"Your order of {products(order)} went to the store together with {with_words}, in one delivery."
    if event.early and event.submit_after:
        text += (f" It went before {messages.local_time(event.submit_after, time_zone, now)}, the cancel deadline "
                 "you were given: you can still cancel it until then, and the store takes it off the delivery "
                 "as long as it has not shipped.")
    return text


def notify_sent_together(event: events.OrderSentTogether, uow: SqlAlchemyUnitOfWork, deps: Deps) -> None:
    """Consumer of OrderSentTogether: the household hears that this order shares a delivery (and, when it went
    before its cancel deadline, that it can still be cancelled)."""
    order = uow.orders.get(event.order_id)
    if order is None or order.test:
        return
    from .event_handlers import notify_household_of
    household = uow.households.get(order.household_id)
    text = sent_together_notice(event, order, household.time_zone if household else None, deps.clock())
    notify_household_of(uow, deps, order.household_id, event.name, text, order.id,
                        {"status": order.status, "early": bool(event.early)})
