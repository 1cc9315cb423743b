"""Streaming reader and writer for the Instacart Market Basket Analysis CSV layout.

Instacart has no dates, only each user's order sequence with ``days_since_prior_order``; we rebuild
calendar dates by placing each user's last order at an ``anchor`` and counting back. Per-order data
(user, day offset, hour) is held in numpy arrays indexed by order_id (~3.4M orders -> ~40 MB), and the
33M order lines are streamed, so memory does not grow with the number of lines.
"""
from __future__ import annotations

import csv
import os
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from catalog.model import Product
from replenish.domain.history import Purchase

ORDER_LINE_FILES = {"prior": "order_products__prior.csv", "train": "order_products__train.csv"}
REQUIRED_FILES = ("products.csv", "orders.csv")  # and at least one of ORDER_LINE_FILES
ORDER_COLUMNS = ["order_id", "user_id", "eval_set", "order_number", "order_dow", "order_hour_of_day",
                 "days_since_prior_order"]
PROGRESS_EVERY = 100_000


@dataclass(frozen=True)
class BadRow:
    file: str
    line: int
    reason: str


@dataclass(frozen=True)
class Order:
    """One order for ``write_dataset``: ``days_since_prior`` is None for the user's first order."""

    order_id: int
    user_id: int
    order_number: int
    days_since_prior: float | None
    product_ids: tuple[int, ...]
    eval_set: str = "prior"
    dow: int = 0
    hour: int = 12


OnError = Callable[[BadRow], None] | None


def missing_files(dir: str | os.PathLike) -> list[str]:
    """What an Instacart directory must hold and ``dir`` lacks: products.csv, orders.csv and a file of order
    lines (order_products__prior.csv or order_products__train.csv)."""
    d = Path(dir)
    missing = [name for name in REQUIRED_FILES if not (d / name).is_file()]
    if not any((d / name).is_file() for name in ORDER_LINE_FILES.values()):
        missing.append(f"order lines ({' or '.join(ORDER_LINE_FILES.values())})")
    return missing


def _rows(path: Path, expected: list[str], on_error: OnError) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of a CSV with a header; rows with the wrong field count are reported, and so
    is where a file stops being UTF-8 text or CSV (the rest of it is skipped: there is no next line to
    find in it)."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        try:
            header = next(reader, None)
            if header is None or [h.strip() for h in header[: len(expected)]] != expected:
                _report(on_error, path, 1, f"unexpected header {header!r}, expected {expected!r}")
                return
            for row in reader:
                if len(row) != len(header):
                    _report(on_error, path, reader.line_num, f"expected {len(header)} fields, got {len(row)}")
                    continue
                yield reader.line_num, row
        except UnicodeDecodeError:
            _report(on_error, path, reader.line_num + 1, "not UTF-8 text; the rest of the file was skipped")
        except csv.Error as exc:
            _report(on_error, path, reader.line_num, f"not CSV ({exc}); the rest of the file was skipped")


def _report(on_error: OnError, path: Path, line: int, reason: str) -> None:
    if on_error is not None:
        on_error(BadRow(path.name, line, reason))


def _lookup(path: Path, key: str, value: str, on_error: OnError) -> dict[int, str]:
    table: dict[int, str] = {}
    if not path.exists():
        return table
    for line, row in _rows(path, [key, value], on_error):
        try:
            table[int(row[0])] = row[1].strip()
        except ValueError:
            _report(on_error, path, line, f"{key} {row[0]!r} is not an integer")
    return table


def guess_brand(name: str) -> str:
    """No brand column in Instacart; only trust an explicit "Brand: ..." style prefix."""
    head, sep, _ = name.partition(":")
    return head.strip() if sep and 0 < len(head) <= 30 else ""


def read_products(dir: str | os.PathLike, on_error: OnError = None) -> Iterator[Product]:
    d = Path(dir)
    aisles = _lookup(d / "aisles.csv", "aisle_id", "aisle", on_error)
    depts = _lookup(d / "departments.csv", "department_id", "department", on_error)
    path = d / "products.csv"
    for line, row in _rows(path, ["product_id", "product_name", "aisle_id", "department_id"], on_error):
        try:
            pid, aisle_id, dept_id = int(row[0]), int(row[2]), int(row[3])
        except ValueError:
            _report(on_error, path, line, "product_id, aisle_id and department_id must be integers")
            continue
        name = row[1].strip()
        if not name:
            _report(on_error, path, line, "empty product_name")
            continue
        category = f"{depts.get(dept_id, str(dept_id))}/{aisles.get(aisle_id, str(aisle_id))}"
        yield Product(sku=str(pid), title=name, brand=guess_brand(name), category=category)


class _Orders:
    """Per-order arrays indexed by order_id: user, days before anchor, hour."""

    def __init__(self, user: np.ndarray, days_back: np.ndarray, hour: np.ndarray):
        self.user, self.days_back, self.hour = user, days_back, hour

    @classmethod
    def read(cls, path: Path, on_error: OnError) -> _Orders:
        oid, uid, num, hour = array("l"), array("l"), array("l"), array("b")
        gap = array("f")
        for line, row in _rows(path, ORDER_COLUMNS, on_error):
            try:
                o, u, n, h = int(row[0]), int(row[1]), int(row[3]), int(row[5])
                g = float(row[6]) if row[6].strip() else 0.0
            except ValueError:
                _report(on_error, path, line, "non-numeric order field")
                continue
            if o < 0 or not 0 <= h <= 23 or g < 0:
                _report(on_error, path, line, "order_id, hour or days_since_prior_order out of range")
                continue
            for column, whole in ((oid, o), (uid, u), (num, n), (hour, h)):
                column.append(whole)
            gap.append(g)
        return cls._from_columns(*(np.frombuffer(a, dtype=a.typecode) if len(a) else np.zeros(0, "i8")
                                   for a in (oid, uid, num, hour, gap)))

    @classmethod
    def _from_columns(cls, oid, uid, num, hour, gap) -> _Orders:
        size = int(oid.max()) + 1 if oid.size else 0
        user = np.full(size, -1, dtype=np.int64)
        days_back = np.zeros(size, dtype=np.float32)
        hours = np.zeros(size, dtype=np.int8)
        if oid.size:
            order = np.lexsort((num, uid))  # each user's orders in order_number order
            u, g = uid[order], gap[order].astype(np.float64)
            cum = np.cumsum(g)
            starts = np.r_[0, np.flatnonzero(np.diff(u)) + 1]
            first_cum = np.repeat(cum[starts] - g[starts], np.diff(np.r_[starts, u.size]))
            day = cum - first_cum  # days since the user's first order
            last = np.repeat(day[np.r_[starts[1:] - 1, u.size - 1]], np.diff(np.r_[starts, u.size]))
            user[oid[order]] = u
            days_back[oid[order]] = last - day
            hours[oid[order]] = hour[order]
        return cls(user, days_back, hours)


def user_ids(dir: str | os.PathLike) -> set[int]:
    """The user ids in orders.csv (its bad rows are ``read_purchases``'s to report)."""
    users = set()
    for _, row in _rows(Path(dir) / "orders.csv", ORDER_COLUMNS, None):
        try:
            users.add(int(row[1]))
        except ValueError:
            continue
    return users


def read_purchases(dir: str | os.PathLike, anchor: datetime | None = None, on_error: OnError = None,
                   eval_sets: Iterable[str] = ("prior", "train"),
                   progress: Callable[[int], None] | None = None,
                   households: Callable[[int], bool] | None = None) -> Iterator[Purchase]:
    """Stream every order line as a Purchase. ``households(user_id)`` optionally filters users."""
    d = Path(dir)
    anchor = (anchor or datetime.now(UTC)).astimezone(UTC)
    midnight = anchor.replace(hour=0, minute=0, second=0, microsecond=0)
    orders = _Orders.read(d / "orders.csv", on_error)
    known = _known_products(d)
    n = 0
    for name in (ORDER_LINE_FILES[s] for s in eval_sets if s in ORDER_LINE_FILES):
        path = d / name
        if not path.exists():
            continue
        for line, row in _rows(path, ["order_id", "product_id"], on_error):
            n += 1
            if progress is not None and n % PROGRESS_EVERY == 0:
                progress(n)
            try:
                oid, pid = int(row[0]), int(row[1])
            except ValueError:
                _report(on_error, path, line, "order_id and product_id must be integers")
                continue
            if not 0 <= oid < orders.user.size or orders.user[oid] < 0:
                _report(on_error, path, line, f"unknown order_id {oid}")
                continue
            if known is not None and not (0 <= pid < known.size and known[pid]):
                _report(on_error, path, line, f"unknown product_id {pid}")
                continue
            uid = int(orders.user[oid])
            if households is not None and not households(uid):
                continue
            at = midnight - timedelta(days=float(orders.days_back[oid])) + timedelta(hours=int(orders.hour[oid]))
            yield Purchase(str(uid), str(pid), at, 1, str(oid))
    if progress is not None:
        progress(n)


def _known_products(d: Path) -> np.ndarray | None:
    """Boolean mask of product ids in products.csv, so lines naming unknown products are reported."""
    path = d / "products.csv"
    if not path.exists():
        return None
    ids = []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        try:
            next(reader, None)
            for row in reader:
                if row and row[0].strip().isdigit():
                    ids.append(int(row[0]))
        except (UnicodeDecodeError, csv.Error):
            pass  # read_products reports where the file went wrong; the ids before it are known
    mask = np.zeros(max(ids, default=-1) + 1, dtype=bool)
    mask[ids] = True
    return mask


def write_dataset(dir: str | os.PathLike, products: Iterable[tuple[int, str, str, str]],
                  orders: Iterable[Order]) -> None:
    """Write an Instacart-layout directory. ``products`` are (product_id, name, department, aisle)."""
    d = Path(dir)
    d.mkdir(parents=True, exist_ok=True)
    aisles: dict[str, int] = {}
    depts: dict[str, int] = {}
    with open(d / "products.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["product_id", "product_name", "aisle_id", "department_id"])
        for pid, name, dept, aisle in products:
            a = aisles.setdefault(aisle, len(aisles) + 1)
            dp = depts.setdefault(dept, len(depts) + 1)
            w.writerow([pid, name, a, dp])
    _write_table(d / "aisles.csv", ["aisle_id", "aisle"], ((v, k) for k, v in aisles.items()))
    _write_table(d / "departments.csv", ["department_id", "department"], ((v, k) for k, v in depts.items()))
    with open(d / "orders.csv", "w", newline="", encoding="utf-8") as fo, \
            open(d / ORDER_LINE_FILES["prior"], "w", newline="", encoding="utf-8") as fp, \
            open(d / ORDER_LINE_FILES["train"], "w", newline="", encoding="utf-8") as ft:
        wo, wp, wt = csv.writer(fo), csv.writer(fp), csv.writer(ft)
        wo.writerow(["order_id", "user_id", "eval_set", "order_number", "order_dow", "order_hour_of_day",
                     "days_since_prior_order"])
        for w in (wp, wt):
            w.writerow(["order_id", "product_id", "add_to_cart_order", "reordered"])
        seen: set[tuple[int, int]] = set()
        for o in orders:
            gap = "" if o.days_since_prior is None else f"{o.days_since_prior:g}"
            wo.writerow([o.order_id, o.user_id, o.eval_set, o.order_number, o.dow, o.hour, gap])
            lines = wt if o.eval_set == "train" else wp
            for i, pid in enumerate(o.product_ids, 1):
                lines.writerow([o.order_id, pid, i, int((o.user_id, pid) in seen)])
                seen.add((o.user_id, pid))


def _write_table(path: Path, header: list[str], rows: Iterable[tuple]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
