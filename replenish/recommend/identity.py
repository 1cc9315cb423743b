"""Which database, catalog and history a model was trained on, and whether it may serve this one.

A model knows products by SKU and households by id: served against another database it would name
SKUs that do not exist there. Training records a fingerprint; serving compares it with the database
it is connected to, with queries cheap enough to run at start and every minute:

- database: dialect, host, port and name (no credentials), and for PostgreSQL the database's OID,
  which changes when a database of the same name is dropped and made again;
- catalog: number of products and a hash of their sorted SKUs (computed inside PostgreSQL);
- history: the newest purchase id, and whether that row still exists (a reloaded or truncated
  history restarts its ids). The history grows after training; that is fine.

Models are stored per database: ``<model_dir>/<database slug>/``, so switching ``DATABASE_URL``
never picks up another database's model.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass

from sqlalchemy import func, select, text

from replenish.adapters import orm


@dataclass(frozen=True)
class Fingerprint:
    database: str        # dialect://host:port/name#oid, no credentials
    products: int        # catalog rows
    sku_hash: str        # md5 of the sorted SKUs joined by newlines
    history_max_id: int  # newest purchase id (0: no history)
    history_rows: int = -1  # purchases read at training (-1: not counted; counting is slow at scale)

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict | None) -> Fingerprint | None:
        if not isinstance(raw, dict):
            return None
        try:
            return cls(str(raw["database"]), int(raw["products"]), str(raw["sku_hash"]),
                       int(raw["history_max_id"]), int(raw.get("history_rows", -1)))
        except (KeyError, TypeError, ValueError):
            return None


def database_identity(session) -> str:
    bind = session.get_bind()
    url = bind.url
    ident = f"{url.get_backend_name()}://{url.host or ''}:{url.port or ''}/{url.database or ''}"
    if bind.dialect.name == "postgresql":
        oid = session.execute(text("select oid from pg_database where datname = current_database()")).scalar()
        ident += f"#{oid}"
    return ident


def slug(identity: str) -> str:
    """A directory name for a database: its name (readable) and a hash of the whole identity."""
    name = identity.split("/")[-1].split("#")[0] or "memory"
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", name.rsplit("/", 1)[-1])[-40:] or "db"
    return f"{name}-{hashlib.sha1(identity.encode()).hexdigest()[:10]}"


def catalog_stamp(session) -> tuple[int, str]:
    """(products, md5 of sorted SKUs)."""
    p = orm.products
    if session.get_bind().dialect.name == "postgresql":
        row = session.execute(text("select count(*), "
                                   "coalesce(md5(string_agg(sku, E'\\n' order by sku collate \"C\")), '')"
                                   " from products")).one()
        return int(row[0]), str(row[1])
    skus = sorted(session.execute(select(p.c.sku)).scalars(), key=lambda s: s.encode())
    return len(skus), hashlib.md5("\n".join(skus).encode()).hexdigest() if skus else ""


def history_max_id(session) -> int:
    return int(session.execute(select(func.coalesce(func.max(orm.purchases.c.id), 0))).scalar() or 0)


def history_row_exists(session, purchase_id: int) -> bool:
    if purchase_id <= 0:
        return True
    p = orm.purchases
    return session.execute(select(p.c.id).where(p.c.id == purchase_id)).first() is not None


def current(session) -> Fingerprint:
    n, h = catalog_stamp(session)
    return Fingerprint(database_identity(session), n, h, history_max_id(session))


def verdict(trained: Fingerprint | None, now: Fingerprint, session=None) -> tuple[str, str]:
    """("ok" | "catalog_changed" | "other_database" | "history_replaced" | "unknown", why).

    ``ok`` and ``catalog_changed`` serve the model (answers limited to the current catalog, see
    ``Recommender.restrict_to``); the others serve baselines."""
    if trained is None:
        return "unknown", "the model records no database fingerprint (trained by an older version): retrain it"
    if trained.database != now.database:
        return "other_database", "the model was trained on another database: retrain it on this one"
    if now.history_max_id < trained.history_max_id or (
            session is not None and not history_row_exists(session, trained.history_max_id)):
        return "history_replaced", ("the purchase history was replaced since the model was trained: "
                                    "retrain it")
    if (trained.products, trained.sku_hash) != (now.products, now.sku_hash):
        return "catalog_changed", (f"the catalog changed since training ({trained.products} products then, "
                                   f"{now.products} now): answers are limited to today's catalog; retrain soon")
    return "ok", "trained on this database"
