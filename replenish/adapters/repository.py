"""Repositories: the only place that knows how aggregates are found in the database."""
from __future__ import annotations

import builtins
import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    bindparam,
    func,
    insert,
    null,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.orm import Session, contains_eager, lazyload

from catalog.model import Product
from replenish.domain import model
from replenish.domain.errors import NotFound, UnknownProduct
from replenish.domain.events import Event
from replenish.domain.history import Purchase

from . import orm
from .purchase_arrays import Chunk, purchase_chunks


def _parse_sqlite_time(value: datetime | str) -> datetime:
    if isinstance(value, datetime):
        return model.as_utc(value)
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _spent_since_statement() -> Select[int]:
    lines, orders = orm.order_lines, orm.orders
    return (select(func.coalesce(func.sum(lines.c.quantity * lines.c.unit_price_cents), 0))
            .select_from(lines.join(orders, lines.c.order_id == orders.c.id))
            .where(orders.c.household_id == bindparam("household_id", type_=String),
                   orders.c.created_at >= bindparam("since", type_=orm.UTCDateTime), orders.c.test.is_(False),
                   orders.c.status.not_in([model.OrderStatus.CANCELLED.value, model.OrderStatus.FAILED.value])))


_SPENT_SINCE = _spent_since_statement()
_INSERT_ORDER = insert(orm.orders)
_INSERT_LINES = insert(orm.order_lines)


_Found = TypeVar("_Found", model.Order, model.Order | None)


class OrderRepository:
    def __init__(self, session: Session):
        self.session = session
        self.seen: set[model.Order] = set()

    def _track(self, order: _Found) -> _Found:
        if order is not None:
            self.seen.add(order)
        return order

    def add(self, order: model.Order) -> None:
        self.session.add(order)
        self.seen.add(order)

    _ORDER_COLUMNS = tuple(c.name for c in orm.orders.c if c.name != "version")

    def insert_new(self, order: model.Order) -> None:
        """Writes a freshly made order and its lines with two bulk INSERT statements (no identity map, no
        unit-of-work flush: a placement's biggest CPU cost otherwise). Its events still reach the outbox on commit.
        The order is not attached to the session: use ``add`` for an order this unit of work changes further."""
        row = {name: getattr(order, name) for name in self._ORDER_COLUMNS}
        row["version"] = 1  # as the mapper's version counter starts
        self.session.execute(_INSERT_ORDER, row)
        self.session.execute(_INSERT_LINES, [
            {"order_id": order.id, "sku": line.sku, "title": line.title, "quantity": line.quantity,
             "unit_price_cents": line.unit_price_cents} for line in order.lines])
        self.seen.add(order)

    def get(self, order_id: str, *, for_update: bool = False) -> model.Order | None:
        if not for_update:  # an order this unit of work already loaded costs no query
            return self._track(self.session.get(model.Order, order_id))
        stmt = select(model.Order).where(orm.orders.c.id == order_id).with_for_update()
        return self._track(self.session.scalars(stmt).first())

    def require(self, order_id: str) -> model.Order:
        """An order known to exist (its id was just read in this transaction; orders are never deleted), or
        NotFound naming it."""
        order = self.get(order_id)
        if order is None:
            raise NotFound(f"No order {order_id!r}.", field="order_id")
        return order

    def get_many(self, order_ids: Iterable[str], *, lock: bool = False) -> builtins.list[model.Order]:
        """Orders by id, in one query (lines in one more). ``lock``: row-locked for this transaction, skipping
        any another transaction holds (it is already working on them)."""
        ids = list(dict.fromkeys(str(i) for i in order_ids))
        if not ids:
            return []
        stmt = select(model.Order).where(orm.orders.c.id.in_(ids))
        if lock:
            stmt = stmt.with_for_update(skip_locked=True)
        return [self._track(o) for o in self.session.scalars(stmt)]

    def for_household(self, household_id: str, order_id: str, *, for_update: bool = False) -> model.Order | None:
        stmt = select(model.Order).where(orm.orders.c.id == order_id, orm.orders.c.household_id == household_id)
        if for_update:
            stmt = stmt.with_for_update()
        return self._track(self.session.scalars(stmt).first())

    # -- sending orders together (services.merging) -----------------------------------------------------------
    def waiting_to_join(self, household_ids: Iterable[str], exclude: Iterable[str]
                        ) -> builtins.list[model.Order]:
        """The households' other pending real orders not claimed yet: those still inside their cancel windows,
        and any due but not yet taken (a fresh one within the sweep's grace), row-locked (skipping any another
        transaction holds: a cancellation, another sweep). One claimed before keeps its key and its group."""
        o = orm.orders
        ids = builtins.list(set(household_ids))
        if not ids:
            return []
        stmt = (select(model.Order)
                .where(o.c.household_id.in_(ids), o.c.status == model.OrderStatus.PENDING.value,
                       o.c.test.is_(False), o.c.submit_key.is_(None), o.c.id.not_in(builtins.list(exclude)))
                .order_by(o.c.submit_after, o.c.id).with_for_update(skip_locked=True))
        return [self._track(order) for order in self.session.scalars(stmt)]

    def claimed_locked(self, keys: Iterable[str]) -> dict[str, builtins.list[model.Order]]:
        """The pending orders claimed under each of ``keys``, row-locked, by key, for the groups this transaction
        holds whole: a group another transaction holds any pending order of (it is sending that group, or a
        cancellation is looking at one of its orders) is left out, so a group is only ever sent complete."""
        o = orm.orders
        keys = builtins.list(dict.fromkeys(k for k in keys if k))
        if not keys:
            return {}
        pending = (o.c.submit_key.in_(keys), o.c.status == model.OrderStatus.PENDING.value, o.c.test.is_(False))
        held: dict[str, builtins.list[model.Order]] = {}
        stmt = select(model.Order).where(*pending).order_by(o.c.id).with_for_update(skip_locked=True)
        for order in self.session.scalars(stmt):
            held.setdefault(order.submit_key or "", []).append(self._track(order))
        counts: dict[str, int] = dict(self.session.execute(
            select(o.c.submit_key, func.count()).where(*pending).group_by(o.c.submit_key)).all())
        return {key: held[key] for key in keys if key in held and len(held[key]) == counts.get(key)}

    def claimed_with(self, key: str | None) -> builtins.list[model.Order]:
        """The orders claimed under ``key`` (what a group is sent as), without locking them."""
        if not key:
            return []
        o = orm.orders
        return [self._track(order) for order in self.session.scalars(
            select(model.Order).where(o.c.submit_key == key).order_by(o.c.created_at, o.c.id))]

    def sharing_retailer_orders(self, household_id: str, retailer_order_ids: Iterable[str | None]
                                ) -> builtins.list[model.Order]:
        """The household's orders in the given retailer orders (to say which were sent together); orders not sent
        yet (no retailer order) among those given are passed over."""
        rids = builtins.list(set(r for r in retailer_order_ids if r))
        if not rids:
            return []
        o = orm.orders
        stmt = (select(model.Order).where(o.c.household_id == household_id, o.c.retailer_order_id.in_(rids))
                .order_by(o.c.created_at, o.c.id))
        return [self._track(order) for order in self.session.scalars(stmt)]

    def deliveries_saved(self, household_id: str, since: datetime) -> int:
        """Deliveries merging saved: for each retailer order sent since ``since`` that holds several of the
        household's orders, those orders (not cancelled, not failed) less one."""
        o = orm.orders
        per_order = (select((func.count() - 1).label("saved"))
                     .where(o.c.household_id == household_id, o.c.merge_group.is_not(None),
                            o.c.retailer_order_id.is_not(None), o.c.submitted_at >= since,
                            o.c.status.not_in([model.OrderStatus.CANCELLED.value, model.OrderStatus.FAILED.value]))
                     .group_by(o.c.retailer_order_id).subquery())
        return int(self.session.execute(select(func.coalesce(func.sum(per_order.c.saved), 0))).scalar_one())

    def by_idempotency_key(self, household_id: str, key: str) -> model.Order | None:
        stmt = select(model.Order).where(orm.orders.c.household_id == household_id,
                                         orm.orders.c.idempotency_key == key)
        return self._track(self.session.scalars(stmt).first())

    def active_for_source(self, household_id: str, source_id: str) -> model.Order | None:
        key = model.Order.source_key(household_id, source_id)
        return self._track(self.session.scalars(select(model.Order).where(orm.orders.c.active_key == key)).first())

    def in_flight(self, household_id: str, source_id: str) -> tuple[str, str] | None:
        """(id, status) of the order in flight for a source, without loading the order: what a press or a slot
        report needs to know."""
        key = model.Order.source_key(household_id, source_id)
        row = self.session.execute(select(orm.orders.c.id, orm.orders.c.status)
                                   .where(orm.orders.c.active_key == key)).first()
        return (row[0], row[1]) if row is not None else None

    def list(self, household_id: str, *, statuses: Iterable[str] | None = None, limit: int = 50,
             before: datetime | None = None) -> builtins.list[model.Order]:
        stmt = select(model.Order).where(orm.orders.c.household_id == household_id)
        if statuses:
            stmt = stmt.where(orm.orders.c.status.in_(builtins.list(statuses)))
        if before is not None:
            stmt = stmt.where(orm.orders.c.created_at < before)
        stmt = stmt.order_by(orm.orders.c.created_at.desc(), orm.orders.c.id.desc()).limit(limit)
        return [self._track(o) for o in self.session.scalars(stmt)]

    # ``spent_since`` as a statement with bound parameters ``household_id`` and ``since``, for running as a column
    # of another query (``ProductRepository.get_many_with``).
    SPENT_SINCE = _SPENT_SINCE

    def spent_since(self, household_id: str, since: datetime) -> int:
        """Cents committed since ``since`` by orders that were not cancelled or refused."""
        return int(self.session.execute(_SPENT_SINCE, {"household_id": str(household_id), "since": since})
                   .scalar_one())

    def due_for_submission(self, now: datetime, limit: int = 500) -> builtins.list[str]:
        stmt = (select(orm.orders.c.id).where(orm.orders.c.status == model.OrderStatus.PENDING.value,
                                              orm.orders.c.submit_after <= now, orm.orders.c.test.is_(False))
                .order_by(orm.orders.c.submit_after).limit(limit))
        return builtins.list(self.session.scalars(stmt))

    def due_for_submission_locked(self, now: datetime, grace: timedelta, limit: int) -> builtins.list[model.Order]:
        """Pending orders due now, oldest due first, row-locked for this transaction (skipping those another one
        holds): fresh ones (never tried) once ``grace`` has passed since they were due, ones the store did not
        answer before as soon as they are due again."""
        o = orm.orders
        stmt = (select(model.Order)
                .where(o.c.status == model.OrderStatus.PENDING.value, o.c.test.is_(False),
                       o.c.submit_after <= now,
                       or_(o.c.submit_attempts > 0, o.c.submit_after <= now - grace))
                .order_by(o.c.submit_after).limit(limit).with_for_update(skip_locked=True))
        return [self._track(order) for order in self.session.scalars(stmt)]

    def in_transit(self, updated_before: datetime, limit: int = 500) -> builtins.list[str]:
        statuses = [model.OrderStatus.SUBMITTED.value, model.OrderStatus.CONFIRMED.value,
                    model.OrderStatus.SHIPPED.value]
        stmt = (select(orm.orders.c.id).where(orm.orders.c.status.in_(statuses),
                                              orm.orders.c.updated_at <= updated_before)
                .order_by(orm.orders.c.updated_at).limit(limit))
        return builtins.list(self.session.scalars(stmt))


@functools.cache
def _lock_for_order_statement(by_key: bool, in_flight: bool, for_update: bool) -> orm.AnySelect:
    """Built once per shape (building a statement costs more CPU than running a cached one): its values are
    bound parameters (household_id, idempotency_key, source_key)."""
    o, limits = orm.orders, orm.household_limits
    household_id = bindparam("household_id", type_=String)
    columns: list[ColumnElement[Any]] = []
    for name, wanted, column, param in (("by_key", by_key, o.c.idempotency_key, "idempotency_key"),
                                        ("in_flight", in_flight, o.c.active_key, "source_key")):
        if wanted:
            columns.append(select(o.c.id).where(o.c.household_id == household_id, column == bindparam(param))
                           .limit(1).scalar_subquery().label(name))
        else:
            columns.append(null().label(name))
    stmt = (select(model.Household, *columns)
            .join(limits, limits.c.household_id == orm.households.c.id)
            .options(contains_eager(orm.relationship_of(model.Household, "limits")))
            .where(orm.households.c.id == household_id))
    return stmt.with_for_update(of=limits) if for_update else stmt


class HouseholdRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, household: model.Household) -> None:
        self.session.add(household)

    def get(self, household_id: str) -> model.Household | None:
        return self.session.get(model.Household, str(household_id))

    def get_many(self, household_ids: Iterable[str]) -> dict[str, model.Household]:
        ids = list({str(h) for h in household_ids})
        if not ids:
            return {}
        return {h.id: h for h in self.session.scalars(select(model.Household).where(orm.households.c.id.in_(ids)))}

    def lock_for_order(self, household_id: str, idempotency_key: str | None = None,
                       source_key: str | None = None) -> tuple[model.Household | None, str | None, str | None]:
        """Locks the household's limits row for this unit of work (as ``lock_limits``) and loads the household,
        with the id of its order made with ``idempotency_key`` and of its order in flight under ``source_key``
        (each None when not asked or not found): one round trip on PostgreSQL (SELECT ... FOR UPDATE OF the limits
        row, the two lookups as scalar subqueries), two on SQLite (the write lock is taken by an UPDATE).

        The lookups see what was committed when the statement began: a placement that waited for the lock may
        miss the order the holder just committed, and then meets the unique indexes on insert."""
        household_id = str(household_id)
        postgres = self.session.get_bind().dialect.name == "postgresql"
        if not postgres:
            self.lock_limits(household_id)
        stmt = _lock_for_order_statement(bool(idempotency_key), bool(source_key), postgres)
        params = {"household_id": household_id, "idempotency_key": idempotency_key, "source_key": source_key}
        row = self.session.execute(stmt, params).first()
        if row is None:
            return None, None, None
        return row[0], row[1], row[2]

    def lock_limits(self, household_id: str) -> None:
        """Holds the household's limits row until the unit of work ends (a write to it: a row lock on
        PostgreSQL, the write lock on SQLite), so that checks and records against its caps and its PIN are made one
        after the other, each on what the one before committed. Call it before reading the limits."""
        self.session.execute(update(orm.household_limits).where(orm.household_limits.c.household_id == str(
            household_id)).values(household_id=orm.household_limits.c.household_id))

    def by_token(self, secret: str) -> model.Household | None:
        """The household whose live API token this is (every API request asks: its limits are loaded only when
        read, not joined in)."""
        stmt = (select(model.Household).options(lazyload(orm.relationship_of(model.Household, "limits")))
                .join(orm.api_tokens, orm.api_tokens.c.household_id == orm.households.c.id)
                .where(orm.api_tokens.c.token_hash == model.hash_secret(secret), orm.api_tokens.c.revoked_at.is_(None)))
        return self.session.scalars(stmt).first()

    def tokens(self, household_id: str) -> list[model.ApiToken]:
        return list(self.session.scalars(select(model.ApiToken).where(
            orm.api_tokens.c.household_id == str(household_id)).order_by(orm.api_tokens.c.created_at)))

    def token(self, household_id: str, token_id: str) -> model.ApiToken | None:
        return self.session.scalars(select(model.ApiToken).where(
            orm.api_tokens.c.household_id == str(household_id), orm.api_tokens.c.id == str(token_id))).first()

    def add_token(self, token: model.ApiToken) -> None:
        self.session.add(token)

    def count(self) -> int:
        return int(self.session.execute(select(func.count()).select_from(orm.households)).scalar_one())

    def ensure(self, household_ids: Iterable[str]) -> int:
        """Creates bare households for ids not yet known (imports). Returns how many were created."""
        ids = sorted({str(h) for h in household_ids})
        known: set[str] = set()
        for start in range(0, len(ids), 5000):
            chunk = ids[start:start + 5000]
            known.update(self.session.scalars(select(orm.households.c.id).where(orm.households.c.id.in_(chunk))))
        new = [h for h in ids if h not in known]
        for household_id in new:
            self.session.add(model.Household(household_id, name=f"Household {household_id}"))
        return len(new)


def product_from_row(row: orm.AnyRow) -> Product:
    return Product(sku=row.sku, title=row.title, brand=row.brand, category=row.category,
                   pack_size=float(row.pack_size), unit=row.unit, price_cents=int(row.price_cents),
                   available=bool(row.available), synonyms=tuple(row.synonyms or ()))


def product_to_row(product: Product) -> dict[str, Any]:
    return {"sku": product.sku, "title": product.title, "brand": product.brand, "category": product.category,
            "pack_size": product.pack_size, "unit": product.unit, "price_cents": product.price_cents,
            "available": product.available, "synonyms": list(product.synonyms)}


# get_many_with's statements, by the id of the module-level query they carry
_WITH_EXTRA: dict[int, orm.AnySelect] = {}


class ProductRepository:
    """The catalog is read-mostly and made of frozen value objects: plain Core, no ORM identity map."""

    def __init__(self, session: Session):
        self.session = session

    def get(self, sku: str) -> Product | None:
        row = self.session.execute(select(orm.products).where(orm.products.c.sku == str(sku))).first()
        return product_from_row(row) if row else None

    def require(self, sku: str, field: str = "sku") -> Product:
        """The product, or UnknownProduct naming ``field``: what a command that names a SKU checks first."""
        product = self.get(sku)
        if product is None:
            raise UnknownProduct(f"There is no product with SKU {sku!r}.", field=field)
        return product

    def get_many(self, skus: Iterable[str]) -> dict[str, Product]:
        wanted = list({str(s) for s in skus})
        if not wanted:
            return {}
        rows = self.session.execute(select(orm.products).where(orm.products.c.sku.in_(wanted)))
        return {row.sku: product_from_row(row) for row in rows}

    def get_many_with(self, skus: Iterable[str], extra: Select[Any], params: dict[str, Any]
                      ) -> tuple[dict[str, Product], Any]:
        """``get_many`` and the value of the scalar query ``extra`` (with its bound ``params``) in the same round
        trip; the value is None when no product was found."""
        wanted = list({str(s) for s in skus})
        if not wanted:
            return {}, None
        stmt = _WITH_EXTRA.get(id(extra))
        if stmt is None:
            stmt = _WITH_EXTRA[id(extra)] = (
                select(orm.products, extra.scalar_subquery().label("_extra"))
                .where(orm.products.c.sku.in_(bindparam("skus", expanding=True))))
        rows = self.session.execute(stmt, {**params, "skus": wanted}).all()
        return {row.sku: product_from_row(row) for row in rows}, (rows[0]._extra if rows else None)

    def all(self) -> list[Product]:
        return [product_from_row(r) for r in self.session.execute(select(orm.products).order_by(orm.products.c.sku))]

    def count(self) -> int:
        return int(self.session.execute(select(func.count()).select_from(orm.products)).scalar_one())

    def find(self, text: str, limit: int = 25) -> list[Product]:
        """Available products whose title, brand or SKU holds every word of ``text`` (case-insensitive), shortest
        titles first: what a person picks from when a catalog is too big for one list."""
        words = [w for w in text.lower().split() if w][:8]
        if not words:
            return []
        haystack = func.lower(orm.products.c.title + " " + orm.products.c.brand + " " + orm.products.c.sku)
        query = select(orm.products).where(orm.products.c.available.is_(True))
        for word in words:
            escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(haystack.like(f"%{escaped}%", escape="\\"))
        query = query.order_by(func.length(orm.products.c.title), orm.products.c.title).limit(limit)
        return [product_from_row(r) for r in self.session.execute(query)]

    def upsert_many(self, items: Sequence[Product]) -> None:
        if not items:
            return
        existing: set[str] = set(self.session.scalars(select(orm.products.c.sku).where(
            orm.products.c.sku.in_([p.sku for p in items]))))
        new_rows = [product_to_row(p) for p in items if p.sku not in existing]
        if new_rows:
            self.session.execute(insert(orm.products), new_rows)
        for product in items:
            if product.sku in existing:
                self.session.execute(update(orm.products).where(orm.products.c.sku == product.sku)
                                     .values(**product_to_row(product)))


class PurchaseRepository:
    def __init__(self, session: Session):
        self.session = session

    def for_household(self, household_id: str, since: datetime | None = None) -> list[Purchase]:
        p = orm.purchases
        # The timestamp is read raw and parsed with fromisoformat: SQLAlchemy's generic SQLite datetime
        # parsing costs ~20 us a row, which is most of a voice turn for a household with years of history.
        sqlite = self.session.get_bind().dialect.name == "sqlite"
        raw_time: ColumnElement[Any] = type_coerce(p.c.ordered_at, String if sqlite else orm.UTCDateTime.impl)
        stmt = select(p.c.household_id, p.c.sku, raw_time.label("ordered_at"), p.c.quantity, p.c.order_ref).where(
            p.c.household_id == str(household_id))
        if since is not None:
            stmt = stmt.where(p.c.ordered_at >= since)
        stmt = stmt.order_by(p.c.ordered_at, p.c.id)
        rows = self.session.execute(stmt).all()
        parse: Callable[[Any], datetime] = _parse_sqlite_time if sqlite else model.as_utc
        return [Purchase(r[0], r[1], parse(r[2]), r[3], r[4]) for r in rows]

    def stamp(self, household_id: str) -> tuple[int, int]:
        """(count, newest id) of a household's history: changes whenever a purchase is added."""
        p = orm.purchases
        row = self.session.execute(select(func.count(), func.coalesce(func.max(p.c.id), 0))
                                   .where(p.c.household_id == str(household_id))).one()
        return int(row[0]), int(row[1])

    def chunks(self, skus: Sequence[str]) -> Iterator[Chunk]:
        """The whole history as numpy arrays, a batch at a time (see ``purchase_arrays``): for training."""
        return purchase_chunks(self.session, skus)

    def add_many(self, items: Sequence[Purchase], source: str = "import") -> None:
        if items:
            self.session.execute(insert(orm.purchases), [
                {"household_id": p.household_id, "sku": p.sku, "ordered_at": p.ordered_at, "quantity": p.quantity,
                 "order_ref": p.order_ref, "source": source} for p in items])

    def count(self) -> int:
        return int(self.session.execute(select(func.count()).select_from(orm.purchases)).scalar_one())


class OutboxRepository:
    def __init__(self, session: Session):
        self.session = session

    def row(self, event: Event, aggregate_id: str | None, household_id: str | None, now: datetime,
            handled: bool = False) -> dict[str, Any]:
        """The outbox row of ``event`` (``add_many`` writes it)."""
        return {"event_type": event.name, "aggregate_id": aggregate_id, "household_id": household_id,
                "payload": event.payload(), "created_at": now, "handled_at": now if handled else None}

    def add(self, event: Event, aggregate_id: str | None, household_id: str | None, now: datetime,
            handled: bool = False) -> int:
        return self.add_many([self.row(event, aggregate_id, household_id, now, handled)])[0]

    def add_many(self, rows: Sequence[dict[str, Any]]) -> list[int]:
        """Writes event rows (see ``row``) in one statement; returns their ids in the order given."""
        if not rows:
            return []
        stmt = insert(orm.outbox).returning(orm.outbox.c.id, sort_by_parameter_order=True)
        return [int(i) for i in self.session.scalars(stmt, list(rows))]

    @staticmethod
    def _retry_due(at: datetime) -> ColumnElement[bool]:
        """Not waiting out a retry delay (see ``postpone``) at ``at``."""
        o = orm.outbox
        return or_(o.c.retry_after.is_(None), o.c.retry_after <= at)

    def unhandled(self, older_than: datetime, limit: int = 500) -> list[int]:
        """Events nobody has handled, created (and last handed over, if ever) before ``older_than``, and not
        waiting out a retry delay."""
        o = orm.outbox
        stmt = (select(o.c.id).where(o.c.handled_at.is_(None), o.c.created_at <= older_than,
                                     or_(o.c.dispatched_at.is_(None), o.c.dispatched_at <= older_than),
                                     self._retry_due(older_than))
                .order_by(o.c.id).limit(limit))
        return list(self.session.scalars(stmt))

    def claim_batch(self, limit: int, now: datetime) -> list[orm.AnyRow]:
        """Marks up to ``limit`` of the oldest unhandled events handled and returns their rows (id, event_type,
        payload). Rows another transaction is claiming are skipped (PostgreSQL), so concurrent workers take
        disjoint batches; if this transaction rolls back, its claims are undone."""
        o = orm.outbox
        pick = (select(o.c.id).where(o.c.handled_at.is_(None), self._retry_due(now))
                .order_by(o.c.id).limit(limit).with_for_update(skip_locked=True))
        stmt = (update(o).where(o.c.id.in_(pick.scalar_subquery())).values(handled_at=now)
                .returning(o.c.id, o.c.event_type, o.c.payload))
        return sorted(self.session.execute(stmt).all(), key=lambda r: r.id)

    def postpone(self, event_id: int, now: datetime, max_delay: float = 600.0) -> int:
        """Records a failed attempt at an event: it waits (exponentially longer each time) before the next.
        Returns the attempts so far."""
        o = orm.outbox
        attempts = int(self.session.execute(update(o).where(o.c.id == event_id).values(attempts=o.c.attempts + 1)
                                            .returning(o.c.attempts)).scalar_one())
        delay = min(max_delay, 5.0 * 2 ** (attempts - 1))
        self.session.execute(update(o).where(o.c.id == event_id).values(retry_after=now + timedelta(seconds=delay)))
        return attempts

    def mark_dispatched(self, ids: Sequence[int], now: datetime) -> None:
        if ids:
            self.session.execute(update(orm.outbox).where(orm.outbox.c.id.in_(list(ids))).values(dispatched_at=now))

    def claim(self, event_id: int, now: datetime) -> orm.AnyRow | None:
        """Marks an event handled and returns its row; None when it is unknown or another delivery of the same
        message got there first (on PostgreSQL the row lock makes the second wait for the first's outcome)."""
        o = orm.outbox
        return self.session.execute(update(o).where(and_(o.c.id == event_id, o.c.handled_at.is_(None)))
                                    .values(handled_at=now).returning(o.c.event_type, o.c.payload)).first()

    def timeline(self, aggregate_id: str) -> list[orm.AnyRow]:
        o = orm.outbox
        return list(self.session.execute(select(o.c.event_type, o.c.payload, o.c.created_at)
                                         .where(o.c.aggregate_id == aggregate_id).order_by(o.c.id)))


class NotificationRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, notification: model.Notification) -> None:
        self.session.add(notification)

    def for_household(self, household_id: str, limit: int = 50) -> list[model.Notification]:
        stmt = (select(model.Notification).where(orm.notifications.c.household_id == household_id)
                .order_by(orm.notifications.c.created_at.desc()).limit(limit))
        return list(self.session.scalars(stmt))
