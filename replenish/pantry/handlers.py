"""Stock levels: set by the household, raised by deliveries, lowered by what is used; a line at its minimum gets
the cheapest whole packs back up to its refill level put on the shopping list."""
from __future__ import annotations

import logging

from replenish.domain.errors import InvalidCommand, NotFound
from replenish.domain.events import OrderDelivered
from replenish.lists import handlers as lists
from replenish.lists.model import AddToList

from .model import (
    MAX_LEVEL,
    Choice,
    Pack,
    RefillStock,
    SetStockLevel,
    StockLevel,
    UseStock,
    check_levels,
    choose_packs,
    product_line,
)

log = logging.getLogger(__name__)


def _packs(uow, like) -> list[Pack]:
    """The pack sizes on sale now of the line ``like`` belongs to (same brand and unit, same title but size)."""
    from sqlalchemy import select

    from replenish.adapters import orm
    from replenish.adapters.repository import product_from_row
    rows = uow.session.execute(select(orm.products).where(orm.products.c.brand == like.brand,
                                                          orm.products.c.unit == like.unit,
                                                          orm.products.c.available.is_(True)))
    line = product_line(like)
    return [Pack(p.sku, p.title, p.pack_size, p.price_cents) for p in map(product_from_row, rows)
            if product_line(p) == line]


def set_stock_level(cmd: SetStockLevel, deps) -> dict:
    check_levels(cmd.minimum, cmd.refill_to, cmd.on_hand)
    with deps.uow() as uow:
        if uow.households.get(cmd.household_id) is None:
            raise NotFound(f"No household {cmd.household_id!r}.", field="household_id")
        product = uow.products.require(cmd.sku)
        line = product_line(product)
        level = uow.stock.get(cmd.household_id, line, for_update=True)
        new = level is None
        if new:
            level = StockLevel(cmd.household_id, line, product.sku, product.unit, 0.0, 0.0, 0.0, deps.clock())
        level.minimum, level.refill_to = float(cmd.minimum), float(cmd.refill_to)
        if cmd.on_hand is not None:
            level.on_hand = float(cmd.on_hand)
        level.updated_at = deps.clock()
        uow.stock.put(level, new)
        view = stock_view(level, product.title)
        uow.commit()
    return view


def use_stock(cmd: UseStock, deps) -> dict:
    """What was used; at or below the minimum, the refill goes on the shopping list (once: not twice while it is
    still there)."""
    if not cmd.all and (cmd.amount is None or isinstance(cmd.amount, bool) or not isinstance(cmd.amount, (int, float))
                        or not 0 < cmd.amount <= MAX_LEVEL):
        raise InvalidCommand(f"Say how much was used (more than 0, at most {MAX_LEVEL:,g}), or that it is all gone.",
                             field="amount")
    with deps.uow() as uow:
        product = uow.products.require(cmd.sku)
        level = uow.stock.get(cmd.household_id, product_line(product), for_update=True)
        if level is None:
            raise NotFound(f"You don't keep count of {product.title}; set its stock level first.", field="sku")
        used = level.on_hand if cmd.all or cmd.amount is None else float(cmd.amount)
        level.on_hand = max(0.0, level.on_hand - used)
        level.updated_at = deps.clock()
        uow.stock.put(level, new=False)
        title = uow.products.require(level.sku).title
        uow.commit()
    view = {"level": stock_view(level, title), "refill": None}
    if level.low and level.needs() > 0:
        view["refill"] = refill_stock(RefillStock(cmd.household_id, level.sku), deps)
    return view


def refill_stock(cmd: RefillStock, deps) -> dict:
    with deps.uow() as uow:
        product = uow.products.require(cmd.sku)
        level = uow.stock.get(cmd.household_id, product_line(product))
        if level is None:
            raise NotFound(f"You don't keep count of {product.title}; set its stock level first.", field="sku")
        if level.needs() <= 0:
            raise InvalidCommand(f"{product.title} is already at its refill level.", field="sku")
        choice = choose_packs(level.needs(), _packs(uow, product), level.unit)
    added = [lists.add_to_list(AddToList(cmd.household_id, sku=sku, quantity=count, added_by="stock",
                                         only_if_absent=True), deps) for sku, count in choice.lines]
    return choice_view(choice) | {"on_list": [a["id"] for a in added]}


def stock_delivered(event: OrderDelivered, uow, deps) -> None:
    """A delivery raises the stock of each line the household keeps count of (in the same transaction that
    marks the event handled, so a redelivered event raises it once)."""
    order = uow.orders.get(event.order_id)
    if order is None or getattr(order, "test", False):
        return
    products = uow.products.get_many(line.sku for line in order.lines)
    by_line: dict[str, float] = {}
    for line in order.lines:
        product = products.get(line.sku)
        if product is not None:
            key = product_line(product)
            by_line[key] = by_line.get(key, 0.0) + line.quantity * product.pack_size
    for key, level in uow.stock.lines_of(order.household_id, set(by_line)).items():
        level.on_hand = min(MAX_LEVEL, level.on_hand + by_line[key])
        level.updated_at = deps.clock()
        uow.stock.put(level, new=False)


def stock_view(level: StockLevel, title: str) -> dict:
    return {"sku": level.sku, "title": title, "unit": level.unit, "on_hand": level.on_hand,
            "minimum": level.minimum, "refill_to": level.refill_to, "low": level.low,
            "updated_at": level.updated_at.isoformat()}


def choice_view(choice: Choice) -> dict:
    return {"lines": [{"sku": pack.sku, "title": pack.title, "quantity": count} for pack, count in choice.packs],
            "units": choice.units, "price_cents": choice.price_cents, "why": choice.why}


def levels_view(deps, household_id: str) -> list[dict]:
    with deps.uow() as uow:
        levels = uow.stock.for_household(household_id)
        titles = {s: p.title for s, p in uow.products.get_many(lv.sku for lv in levels).items()}
    return [stock_view(level, titles.get(level.sku, "")) for level in levels]


PANTRY_COMMAND_HANDLERS = {SetStockLevel: set_stock_level, UseStock: use_stock, RefillStock: refill_stock}
