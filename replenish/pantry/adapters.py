"""The stock levels table (on the core's metadata) and its repository."""
from __future__ import annotations

from sqlalchemy import Column, Float, ForeignKey, String, Table, delete, insert, select, update
from sqlalchemy.orm import Session

from replenish.adapters.orm import UTCDateTime, metadata, rowcount

from .model import StockLevel

stock_levels = Table(
    "stock_levels", metadata,
    Column("household_id", String(64), ForeignKey("households.id", ondelete="CASCADE"), primary_key=True),
    Column("line", String(400), primary_key=True),
    Column("sku", String(64), nullable=False),
    Column("unit", String(32), nullable=False),
    Column("on_hand", Float, nullable=False),
    Column("minimum", Float, nullable=False),
    Column("refill_to", Float, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
_COLUMNS = ("household_id", "line", "sku", "unit", "on_hand", "minimum", "refill_to", "updated_at")


class StockRepository:
    def __init__(self, session: Session):
        self.session = session

    def for_household(self, household_id: str) -> list[StockLevel]:
        rows = self.session.execute(select(stock_levels).where(stock_levels.c.household_id == household_id)
                                    .order_by(stock_levels.c.line))
        return [StockLevel(**{c: getattr(r, c) for c in _COLUMNS}) for r in rows]

    def get(self, household_id: str, line: str, for_update: bool = False) -> StockLevel | None:
        query = select(stock_levels).where(stock_levels.c.household_id == household_id, stock_levels.c.line == line)
        row = self.session.execute(query.with_for_update() if for_update else query).first()
        return StockLevel(**{c: getattr(row, c) for c in _COLUMNS}) if row else None

    def lines_of(self, household_id: str, lines: set[str]) -> dict[str, StockLevel]:
        if not lines:
            return {}
        rows = self.session.execute(select(stock_levels).where(stock_levels.c.household_id == household_id,
                                                               stock_levels.c.line.in_(lines)).with_for_update())
        return {r.line: StockLevel(**{c: getattr(r, c) for c in _COLUMNS}) for r in rows}

    def put(self, level: StockLevel, new: bool) -> None:
        values = {c: getattr(level, c) for c in _COLUMNS}
        if new:
            self.session.execute(insert(stock_levels).values(**values))
        else:
            self.session.execute(update(stock_levels).where(stock_levels.c.household_id == level.household_id,
                                                            stock_levels.c.line == level.line).values(**values))

    def remove(self, household_id: str, line: str) -> int:
        return rowcount(self.session.execute(
            delete(stock_levels).where(stock_levels.c.household_id == household_id, stock_levels.c.line == line)))
