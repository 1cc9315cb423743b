"""Stock levels for anything the household buys, and buying in whole packs.

A stock level is kept per product line (the same product in its pack sizes: Tide PODS Original in 42, 81 and 112
counts): how much is at home (``on_hand``, in the line's unit), the household's ``minimum`` and the level to
``refill_to``. Deliveries raise it (as Dash Replenishment raises inventory on shipment); "we used the last of
the milk" lowers it. Refilling buys whole packs of the line reaching the target at the lowest price, and says
why that combination."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime

from catalog.model import Product
from replenish.domain.errors import InvalidCommand
from replenish.domain.model import MAX_QUANTITY  # packs of one product in one order

MAX_LEVEL = 10_000.0  # units of a line a household keeps at home (10,000 pods would already be a warehouse)
# the size at the end of a title: ", 42 Count", " - 150 fl oz", ", 12 Mega Rolls", " (6 Pack)"
_SIZE = re.compile(r"(?:[,\-(]\s*|\s+)\d+(?:\.\d+)?\s*(?:[a-zA-Z]+\.?\s*){0,3}\)?\s*$")


def product_line(product: Product) -> str:
    """What makes two products pack sizes of one line: the brand, the unit and the title without its size."""
    base = _SIZE.sub("", product.title).strip().casefold()
    return f"{product.brand.casefold()}|{product.unit.casefold()}|{base}"


@dataclass(frozen=True)
class Pack:
    sku: str
    title: str
    size: float  # units in one pack
    price_cents: int


@dataclass(frozen=True)
class Choice:
    packs: tuple[tuple[Pack, int], ...]  # (pack, how many), largest first
    units: float
    price_cents: int
    why: str

    @property
    def lines(self) -> list[tuple[str, int]]:
        return [(pack.sku, count) for pack, count in self.packs]


def _money(cents: int) -> str:
    return f"${cents / 100:,.2f}"


def _describe(packs: tuple[tuple[Pack, int], ...], unit: str) -> str:
    def one(pack: Pack) -> str:
        return f"{pack.size:g}-count" if unit in ("", "count") else f"{pack.size:g} {unit}"
    return " and ".join(f"{count} × {one(pack)}" for pack, count in packs)


def choose_packs(need: float, packs: list[Pack], unit: str = "") -> Choice:
    """The combination of whole packs with at least ``need`` units at the lowest price (fewest packs, then least
    left over, on a tie), with a sentence saying why it beats the next-best way to get there."""
    packs = [p for p in packs if p.size > 0 and p.price_cents >= 0]
    if not packs:
        raise InvalidCommand("There is no pack of this product to buy.", field="sku")
    if not 0 < need <= MAX_LEVEL:
        raise InvalidCommand(f"Refill by more than 0 and at most {MAX_LEVEL:,g}.", field="refill_to")
    scale = 10 if any(p.size != int(p.size) for p in packs) or need != int(need) else 1
    sizes = [round(p.size * scale) for p in packs]
    target = math.ceil(need * scale - 1e-9)
    top = target + max(sizes)  # enough to cover with one pack more than needed, never more
    # best[u] = (price, packs, leftover) of the cheapest way to hold exactly u units; then the best u >= target
    best: list[tuple[int, int, tuple[int, ...]] | None] = [None] * (top + 1)
    best[0] = (0, 0, (0,) * len(packs))
    for units in range(1, top + 1):
        for i, size in enumerate(sizes):
            before = best[units - size] if size <= units else None
            if before is not None:
                price, count, counts = before
                option = (price + packs[i].price_cents, count + 1,
                          tuple(c + (j == i) for j, c in enumerate(counts)))
                here = best[units]
                if here is None or option[:2] < here[:2]:
                    best[units] = option
    options = []
    for units in range(target, top + 1):
        found = best[units]
        if found is not None and max(found[2]) <= MAX_QUANTITY:
            price, count, counts = found
            options.append((price, count, units - target, units, counts))
    if not options:
        raise InvalidCommand("That is more than one order can hold of this product.", field="refill_to")
    options.sort()
    price, _, _, units, counts = options[0]
    chosen = tuple(sorted(((packs[i], c) for i, c in enumerate(counts) if c), key=lambda pc: -pc[0].size))
    word = f" {unit}" if unit and unit != "count" else ""
    why = f"{_describe(chosen, unit)} for {_money(price)}: the lowest price for at least {need:g}{word}"
    runner_up = next((o for o in options[1:] if o[4] != counts), None)
    if runner_up is not None:
        other = tuple(sorted(((packs[i], c) for i, c in enumerate(runner_up[4]) if c), key=lambda pc: -pc[0].size))
        why += f" ({_describe(other, unit)} would cost {_money(runner_up[0])})"
    return Choice(chosen, units / scale, price, why + ".")


@dataclass
class StockLevel:
    household_id: str
    line: str  # product_line() of the products it counts
    sku: str  # the pack it was set up with (its title names the line to people)
    unit: str
    on_hand: float
    minimum: float
    refill_to: float
    updated_at: datetime

    @property
    def low(self) -> bool:
        return self.on_hand <= self.minimum

    def needs(self) -> float:
        return max(0.0, self.refill_to - self.on_hand)


def check_levels(minimum, refill_to, on_hand) -> None:
    for name, value in (("minimum", minimum), ("refill_to", refill_to), ("on_hand", on_hand)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not 0 <= value <= MAX_LEVEL or value != value):
            raise InvalidCommand(f"{name} is a number from 0 to {MAX_LEVEL:,g}.", field=name)
    if minimum is not None and refill_to is not None and refill_to <= minimum:
        raise InvalidCommand("refill_to must be above the minimum.", field="refill_to")


# -- commands --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SetStockLevel:
    household_id: str
    sku: str
    minimum: float
    refill_to: float
    on_hand: float | None = None  # what is at home now (unchanged when not given, 0 for a new line)


@dataclass(frozen=True)
class UseStock:
    """Consumption said by voice or clicked in the dashboard: ``amount`` units, or everything (``all``)."""
    household_id: str
    sku: str
    amount: float | None = None
    all: bool = False


@dataclass(frozen=True)
class RefillStock:
    """Puts the cheapest whole packs that bring the line up to its refill level on the shopping list."""
    household_id: str
    sku: str
