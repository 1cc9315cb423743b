"""The list's tables (on the core's metadata, so Alembic and ``create_all`` see them) and its repository."""
from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from replenish.adapters.orm import AnyRow, UTCDateTime, metadata, rowcount

from .model import ListItem

# One row per household that has a list: its version, raised by every change, serialises changes (the row is
# locked by each) and names the list a household saw when it asks to order it.
shopping_lists = Table(
    "shopping_lists", metadata,
    Column("household_id", String(64), ForeignKey("households.id", ondelete="CASCADE"), primary_key=True),
    Column("version", Integer, nullable=False, default=0),
    # in the idempotency keys of the list's orders, so that no key a client sends to the orders API can match
    Column("nonce", String(32), nullable=False),
)

list_items = Table(
    "list_items", metadata,
    Column("id", String(32), primary_key=True),
    Column("household_id", String(64), ForeignKey("households.id", ondelete="CASCADE"), nullable=False),
    Column("phrase", String(200), nullable=False),
    Column("sku", String(64), nullable=True),
    Column("quantity", Integer, nullable=False),
    Column("position", Integer, nullable=False),
    Column("added_by", String(16), nullable=False),
    Column("added_at", UTCDateTime, nullable=False),
    Column("checked_at", UTCDateTime, nullable=True),
    Column("claimed_by", String(64), nullable=True),
    Column("claimed_at", UTCDateTime, nullable=True),
    Index("ix_list_items_household", "household_id", "position"),
)

_COLUMNS = ("id", "household_id", "phrase", "sku", "quantity", "position", "added_by", "added_at", "checked_at",
            "claimed_by", "claimed_at")


def _item(row: AnyRow) -> ListItem:
    return ListItem(**{name: getattr(row, name) for name in _COLUMNS})


class ListRepository:
    def __init__(self, session: Session):
        self.session = session

    def lock(self, household_id: str) -> tuple[int, str]:
        """Holds the household's list until the unit of work ends (a row lock on PostgreSQL, the write lock on
        SQLite); its version and nonce. The row is made on first use."""
        held = self.session.execute(update(shopping_lists).where(shopping_lists.c.household_id == household_id)
                                    .values(version=shopping_lists.c.version)
                                    .returning(shopping_lists.c.version, shopping_lists.c.nonce)).first()
        if held is None:
            nonce = secrets.token_hex(8)
            self.session.execute(insert(shopping_lists).values(household_id=household_id, version=0, nonce=nonce))
            return 0, nonce
        return int(held.version), held.nonce

    def version(self, household_id: str) -> int:
        found = self.session.execute(select(shopping_lists.c.version)
                                     .where(shopping_lists.c.household_id == household_id)).scalar_one_or_none()
        return int(found or 0)

    def bump(self, household_id: str) -> int:
        """The next version (call after ``lock``)."""
        self.session.execute(update(shopping_lists).where(shopping_lists.c.household_id == household_id)
                             .values(version=shopping_lists.c.version + 1))
        return self.version(household_id)

    def items(self, household_id: str) -> list[ListItem]:
        rows = self.session.execute(select(list_items).where(list_items.c.household_id == household_id)
                                    .order_by(list_items.c.position, list_items.c.added_at, list_items.c.id))
        return [_item(r) for r in rows]

    def add(self, item: ListItem) -> None:
        self.session.execute(insert(list_items).values(**{name: getattr(item, name) for name in _COLUMNS}))

    def save(self, item: ListItem) -> None:
        values = {name: getattr(item, name) for name in _COLUMNS if name not in ("id", "household_id")}
        self.session.execute(update(list_items).where(list_items.c.id == item.id).values(**values))

    def remove(self, ids: list[str]) -> int:
        if not ids:
            return 0
        return rowcount(self.session.execute(delete(list_items).where(list_items.c.id.in_(ids))))

    def claim(self, ids: list[str], key: str | None, now: datetime | None) -> None:
        self.session.execute(update(list_items).where(list_items.c.id.in_(ids))
                             .values(claimed_by=key, claimed_at=now))

    def count(self, household_id: str) -> int:
        return int(self.session.execute(select(func.count()).select_from(list_items)
                                        .where(list_items.c.household_id == household_id)).scalar_one())
