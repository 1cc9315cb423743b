"""Loading catalogs and purchase histories into the database: Instacart-format imports and the demo seed."""
from __future__ import annotations

import csv
import logging
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import insert

from replenish.adapters import orm
from replenish.domain import commands
from replenish.domain.history import Purchase

log = logging.getLogger(__name__)
BATCH = 20_000


@dataclass
class ImportReport:
    products: int = 0
    purchases: int = 0
    households_created: int = 0
    bad_rows: list = field(default_factory=list)

    @property
    def bad_count(self) -> int:
        return len(self.bad_rows)


def _batches(items: Iterable, size: int) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _copy_purchases(engine, rows: list[Purchase], source: str) -> None:
    """PostgreSQL's COPY: an order of magnitude faster than INSERT for millions of history lines."""
    raw = engine.raw_connection()
    try:
        copy = "COPY purchases (household_id, sku, ordered_at, quantity, order_ref, source) FROM STDIN"
        with raw.cursor() as cur, cur.copy(copy) as cp:
            for p in rows:
                cp.write_row((p.household_id, p.sku, p.ordered_at, p.quantity, p.order_ref, source))
        raw.commit()
    finally:
        raw.close()


def store_purchases(container, purchases: Iterable[Purchase], source: str = "import",
                    on_batch: Callable[[int], None] | None = None) -> tuple[int, int]:
    """Bulk-inserts purchases, creating bare households for new ids. Returns (purchases, households created)."""
    engine = container.engine
    total = created = 0
    for batch in _batches(purchases, BATCH):
        with container.uow() as uow:
            created += uow.households.ensure(p.household_id for p in batch)
            uow.session.commit()
        if engine.dialect.name == "postgresql":
            _copy_purchases(engine, batch, source)
        else:
            with engine.begin() as conn:
                conn.execute(insert(orm.purchases), [
                    {"household_id": p.household_id, "sku": p.sku, "ordered_at": p.ordered_at,
                     "quantity": p.quantity, "order_ref": p.order_ref, "source": source} for p in batch])
        total += len(batch)
        if on_batch:
            on_batch(len(batch))
    return total, created


def import_instacart(container, directory, anchor: datetime | None = None, progress=None) -> ImportReport:
    from catalog import instacart
    report = ImportReport()

    def bad(row) -> None:
        report.bad_rows.append(row)
        log.debug("skipped %s line %s: %s", row.file, row.line, row.reason)  # the caller reports them

    products = list(instacart.read_products(directory, on_error=bad))
    for batch in _batches(products, 5000):
        with container.uow() as uow:
            uow.products.upsert_many(batch)
            uow.session.commit()
    report.products = len(products)
    purchases = instacart.read_purchases(directory, anchor=anchor, on_error=bad)
    report.purchases, report.households_created = store_purchases(
        container, purchases, on_batch=(lambda n: progress.update(n)) if progress else None)
    return report


MERGED_COLUMNS = ["order_id", "user_id", "order_number", "order_dow", "order_hour_of_day",
                  "days_since_prior_order", "product_id", "add_to_cart_order", "reordered"]
CATALOG_FILES = ("products.csv", "aisles.csv", "departments.csv")


@dataclass
class SplitReport:
    orders: int = 0
    lines: int = 0
    bad_rows: list = field(default_factory=list)  # (line number, reason)


def split_merged_instacart(merged_csv, catalog_dir, out_dir) -> SplitReport:
    """Instacart lines published as one table (orders joined with their order lines: one row per line,
    columns ``MERGED_COLUMNS``, an unnamed index column first allowed) -> the Instacart layout that
    ``import instacart`` and ``evaluate`` read: ``orders.csv`` (every order in ``prior``) and
    ``order_products__prior.csv``, beside ``products.csv``, ``aisles.csv`` and ``departments.csv`` copied
    from ``catalog_dir``. Nothing is invented: a row whose order fields disagree with an earlier row of
    the same order, or that is not numeric, is left out and reported."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = SplitReport()
    orders: dict[int, tuple] = {}
    with open(merged_csv, newline="", encoding="utf-8-sig") as src, \
            open(out / "order_products__prior.csv", "w", newline="", encoding="utf-8") as dst:
        reader = csv.reader(src)
        header = [h.strip() for h in next(reader, [])]
        skip = 1 if header[:1] == [""] else 0
        if header[skip:] != MERGED_COLUMNS:
            raise ValueError(f"{merged_csv}: expected columns {MERGED_COLUMNS}, got {header!r}")
        lines = csv.writer(dst)
        lines.writerow(["order_id", "product_id", "add_to_cart_order", "reordered"])
        for row in reader:
            row = row[skip:]
            try:
                oid, uid, num, dow, hour = (int(v) for v in row[:5])
                gap = "" if not row[5].strip() else f"{float(row[5]):g}"
                pid, cart, again = int(row[6]), int(float(row[7])), int(float(row[8]))
            except (ValueError, IndexError):
                report.bad_rows.append((reader.line_num, "not numeric"))
                continue
            order = (uid, num, dow, hour, gap)
            if orders.setdefault(oid, order) != order:
                report.bad_rows.append((reader.line_num, f"order {oid} disagrees with an earlier row"))
                continue
            lines.writerow([oid, pid, cart, again])
            report.lines += 1
    with open(out / "orders.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["order_id", "user_id", "eval_set", "order_number", "order_dow", "order_hour_of_day",
                    "days_since_prior_order"])
        for oid, (uid, num, dow, hour, gap) in sorted(orders.items(), key=lambda kv: (kv[1][0], kv[1][1])):
            w.writerow([oid, uid, "prior", num, dow, hour, gap])
    report.orders = len(orders)
    for name in CATALOG_FILES:
        if (Path(catalog_dir) / name).exists():
            shutil.copyfile(Path(catalog_dir) / name, out / name)
    return report


def seed_demo(container, now: datetime | None = None) -> dict:
    """The demo catalog and household, created once; each call issues a fresh API token for it."""
    from catalog.demo import DEMO_HOUSEHOLD, demo_catalog, demo_history
    now = now or container.clock()
    catalog = demo_catalog()
    with container.uow() as uow:
        uow.products.upsert_many(catalog)
        exists = uow.households.get(DEMO_HOUSEHOLD["id"]) is not None
        uow.session.commit()
    if not exists:
        container.bus.handle(commands.CreateHousehold(
            DEMO_HOUSEHOLD["id"], DEMO_HOUSEHOLD["name"], DEMO_HOUSEHOLD.get("address", ""),
            DEMO_HOUSEHOLD.get("time_zone", "UTC"), tuple(DEMO_HOUSEHOLD.get("members", ()))))
        store_purchases(container, demo_history(DEMO_HOUSEHOLD["id"], catalog, now), source="demo")
    token = container.bus.handle(commands.IssueToken(DEMO_HOUSEHOLD["id"], "demo"))
    return {"household_id": DEMO_HOUSEHOLD["id"], "token": token, "products": len(catalog), "created": not exists}
