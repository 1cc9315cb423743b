"""Tables, and the imperative mapping of the domain classes onto them (the domain imports no SQLAlchemy)."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeAlias, cast

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Row,
    Select,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    false,
    inspect,
    text,
)
from sqlalchemy.engine import CursorResult, Dialect, Engine, Result
from sqlalchemy.orm import QueryableAttribute, registry, relationship
from sqlalchemy.types import TypeDecorator

from replenish.domain import model

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)
mapper_registry = registry(metadata=metadata)

# A row, and a SELECT, of any columns (SQLAlchemy 2.1 types them with one type per column).
AnyRow: TypeAlias = Row[*tuple[Any, ...]]
AnySelect: TypeAlias = Select[*tuple[Any, ...]]


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always hands back an aware UTC datetime (SQLite would hand back a naive one)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return model.as_utc(value)


households = Table(
    "households", metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False, default=""),
    Column("address", Text, nullable=False, default=""),
    Column("time_zone", String(64), nullable=False, default="UTC"),
    Column("members", JSON, nullable=False, default=list),
    Column("created_at", UTCDateTime, nullable=False),
)

household_limits = Table(
    "household_limits", metadata,
    Column("household_id", String(64), ForeignKey("households.id", ondelete="CASCADE"), primary_key=True),
    Column("per_order_cap_cents", Integer, nullable=True),
    Column("per_month_cap_cents", Integer, nullable=True),
    Column("cancel_windows", JSON, nullable=False, default=dict),
    Column("voice_pin_hash", String(200), nullable=True),
    Column("pin_failures", Integer, nullable=False, default=0),
    Column("pin_locked_until", UTCDateTime, nullable=True),
    Column("pin_lockouts", Integer, nullable=False, default=0, server_default="0"),
    Column("notification_prefs", JSON, nullable=True),
    Column("recognised_voices_only", Boolean, nullable=False, default=False, server_default=false()),
    Column("send_together", Boolean, nullable=False, default=False, server_default=false()),
)

api_tokens = Table(
    "api_tokens", metadata,
    Column("id", String(32), primary_key=True),
    Column("household_id", String(64), ForeignKey("households.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("label", String(64), nullable=False, default="api"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("prefix", String(16), nullable=True),  # the token's first characters, for lists (older ones: none)
)

products = Table(
    "products", metadata,
    Column("sku", String(64), primary_key=True),
    Column("title", String(300), nullable=False),
    Column("brand", String(120), nullable=False, default=""),
    Column("category", String(300), nullable=False, default=""),
    Column("pack_size", Float, nullable=False, default=1.0),
    Column("unit", String(32), nullable=False, default="count"),
    Column("price_cents", Integer, nullable=False, default=0),
    Column("available", Boolean, nullable=False, default=True),
    Column("synonyms", JSON, nullable=False, default=list),
)

# Purchase history (imported and from delivered orders). No foreign keys: bulk imports of millions of rows
# arrive before or without their households.
purchases = Table(
    "purchases", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("household_id", String(64), nullable=False),
    Column("sku", String(64), nullable=False),
    Column("ordered_at", UTCDateTime, nullable=False),
    Column("quantity", Integer, nullable=False, default=1),
    Column("order_ref", String(64), nullable=False, default=""),
    Column("source", String(16), nullable=False, default="import"),
    Index("ix_purchases_household_time", "household_id", "ordered_at"),
)

orders = Table(
    "orders", metadata,
    Column("id", String(32), primary_key=True),
    Column("household_id", String(64), ForeignKey("households.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("source_id", String(128), nullable=True),
    Column("exclusive_source", Boolean, nullable=False, default=True),
    Column("idempotency_key", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("submit_after", UTCDateTime, nullable=False),
    Column("submitted_at", UTCDateTime, nullable=True),
    Column("retailer_order_id", String(128), nullable=True),
    Column("confirmed_at", UTCDateTime, nullable=True),
    Column("shipped_at", UTCDateTime, nullable=True),
    Column("delivered_at", UTCDateTime, nullable=True),
    Column("cancelled_at", UTCDateTime, nullable=True),
    Column("failed_at", UTCDateTime, nullable=True),
    Column("failure_reason", Text, nullable=True),
    Column("tracking_url", Text, nullable=True),
    Column("delivery_photo_url", Text, nullable=True),
    Column("expected_delivery", UTCDateTime, nullable=True),
    # Set only while an exclusive source's order is in flight: the unique index is the one-in-flight rule.
    Column("active_key", String(200), nullable=True, unique=True),
    Column("version", Integer, nullable=False),
    Column("test", Boolean, nullable=False, default=False, server_default=false()),
    # Tries that met no answer from the store; the next one is due at submit_after (see Order.retry_submission).
    Column("submit_attempts", Integer, nullable=False, default=0, server_default="0"),
    # The merged retailer order's idempotency key (its first order's id) while it holds several orders.
    Column("merge_group", String(32), nullable=True, index=True),
    # The retailer idempotency key a pending order is sent under, with the orders sharing it: decided once and
    # committed before anything is sent (services.merging.claim); NULL while not claimed.
    Column("submit_key", String(32), nullable=True, index=True),
    UniqueConstraint("household_id", "idempotency_key", name="uq_orders_household_idempotency"),
    Index("ix_orders_status_submit_after", "status", "submit_after"),
    Index("ix_orders_household_created", "household_id", "created_at"),
)

order_lines = Table(
    "order_lines", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("order_id", String(32), ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("sku", String(64), nullable=False),
    Column("title", String(300), nullable=False, default=""),
    Column("quantity", Integer, nullable=False),
    Column("unit_price_cents", Integer, nullable=False),
)

# The outbox: every event, written in the transaction that made it; also the order timeline.
outbox = Table(
    "outbox", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_type", String(64), nullable=False),
    Column("aggregate_id", String(64), nullable=True, index=True),
    Column("household_id", String(64), nullable=True, index=True),
    Column("payload", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("dispatched_at", UTCDateTime, nullable=True),
    Column("handled_at", UTCDateTime, nullable=True),
    # A consumer that failed leaves the event for a later attempt, with backoff, instead of blocking the rest.
    Column("attempts", Integer, nullable=False, default=0, server_default="0"),
    Column("retry_after", UTCDateTime, nullable=True),
    # Only the few unhandled rows are indexed: claiming work stays fast however long the timeline grows.
    Index("ix_outbox_unhandled", "id", postgresql_where=text("handled_at IS NULL"),
          sqlite_where=text("handled_at IS NULL")),
)

notifications = Table(
    "notifications", metadata,
    Column("id", String(32), primary_key=True),
    Column("household_id", String(64), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("message", Text, nullable=False),
    Column("channel", String(80), nullable=False),  # "feed", "sns", "alexa", or "sns to Alex" (a member's own)
    Column("order_id", String(32), nullable=True),
    Column("status", String(16), nullable=False, default="sent"),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_notifications_household_time", "household_id", "created_at"),
)

# The simulated retailer's own books (shared by every process through the database).
sim_store_orders = Table(
    "sim_store_orders", metadata,
    Column("retailer_order_id", String(64), primary_key=True),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, default=1),
    Column("payload", JSON, nullable=False),
    Column("cancelled_at", UTCDateTime, nullable=True),
)

_mapped = False


def start_mappers() -> None:
    global _mapped
    if _mapped:
        return
    _mapped = True
    mapper_registry.map_imperatively(model.Limits, household_limits)
    mapper_registry.map_imperatively(model.ApiToken, api_tokens)
    mapper_registry.map_imperatively(model.Household, households, properties={
        "limits": relationship(model.Limits, uselist=False, cascade="all, delete-orphan", lazy="joined"),
    })
    mapper_registry.map_imperatively(model.OrderLine, order_lines, properties={"_id": order_lines.c.id,
                                                                            "_order_id": order_lines.c.order_id})
    mapper_registry.map_imperatively(model.Order, orders, version_id_col=orders.c.version, properties={
        "lines": relationship(model.OrderLine, cascade="all, delete-orphan", lazy="selectin",
                              order_by=order_lines.c.id),
    })
    mapper_registry.map_imperatively(model.Notification, notifications)


def rowcount(result: Result[*tuple[Any, ...]]) -> int:
    """The rows an INSERT, UPDATE or DELETE run through a Session matched: ``Session.execute`` is typed as giving
    a Result, but for those statements it gives a CursorResult, which counts them."""
    return cast(CursorResult[*tuple[Any, ...]], result).rowcount


def relationship_of(cls: type, name: str) -> QueryableAttribute[Any]:
    """A mapped class's relationship as a query attribute (for loader options): the domain classes are mapped
    imperatively, so their class attributes appear only once ``start_mappers`` has run."""
    return inspect(cls).relationships[name].class_attribute



@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    # WAL lets the web threads read while the worker thread writes; busy_timeout waits instead of failing.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
