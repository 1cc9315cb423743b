"""A household's purchase history, summarised per product as numpy arrays.

Times are float days since the Unix epoch. A household may put one product in an order on several
lines; we count *orders containing* a product, which is what repurchase cycles are made of.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import repeat
from operator import attrgetter
from typing import Mapping, Sequence

import numpy as np

from replenish.domain.history import Purchase

DAY = 86400.0


def to_day(t: datetime) -> float:
    return t.timestamp() / DAY


def from_day(d: float) -> datetime:
    return datetime.fromtimestamp(d * DAY, tz=timezone.utc)


_SKU, _AT, _QTY = attrgetter("sku"), attrgetter("ordered_at"), attrgetter("quantity")


def encode(history: Sequence[Purchase], row_of: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(product rows, days, quantities) of purchases whose sku is in the catalog."""
    # map() over attrgetters keeps the per-line work in C: this runs for every uncached household
    rows = np.fromiter(map(row_of.get, map(_SKU, history), repeat(-1)), np.int64, len(history))
    # the lines of one order share a time: convert each distinct time once
    ats = list(map(_AT, history))
    stamps = dict.fromkeys(ats)
    for t in stamps:
        stamps[t] = t.timestamp()
    days = np.fromiter(map(stamps.__getitem__, ats), np.float64, len(ats)) / DAY
    qty = np.fromiter(map(_QTY, history), np.float64, len(history))
    known = rows >= 0
    return rows[known], days[known], qty[known]


@dataclass
class Profile:
    rows: np.ndarray        # distinct products bought, ascending
    count: np.ndarray       # orders containing each product
    first: np.ndarray       # day of first / last purchase
    last: np.ndarray
    log_int: np.ndarray     # mean log interval between purchases (nan if bought once)
    last_int: np.ndarray    # most recent interval (nan if bought once)
    qty: np.ndarray         # mean packs per order
    order_days: np.ndarray  # distinct order days, ascending
    line_rows: np.ndarray   # product row of each (order, product) line, for category/brand shares
    line_days: np.ndarray   # order day of each of those lines
    memo: dict = field(default_factory=dict, repr=False, compare=False)  # derived tables, see features

    @property
    def n_orders(self) -> int:
        return int(self.order_days.size)

    @property
    def empty(self) -> bool:
        return self.rows.size == 0

    @property
    def order_gap(self) -> float:
        """Median days between orders (nan with fewer than two orders)."""
        return float(np.median(np.diff(self.order_days))) if self.order_days.size > 1 else float("nan")

    def lookup(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(position in this profile, bought mask) for candidate product rows."""
        if self.rows.size == 0:
            return np.zeros(rows.size, np.int64), np.zeros(rows.size, bool)
        pos = np.minimum(np.searchsorted(self.rows, rows), self.rows.size - 1)
        return pos, self.rows[pos] == rows

    def orders_since(self, day: np.ndarray) -> np.ndarray:
        return self.order_days.size - np.searchsorted(self.order_days, day, side="right")

    def memoized(self, name: str, owner: object, compute):
        """``compute()`` once per (name, owner): derived data that depends on a model's arrays.

        The owner is kept beside the value and compared by identity, so a recycled ``id`` never
        serves another model's table."""
        hit = self.memo.get((name, id(owner)))
        if hit is None or hit[0] is not owner:
            hit = self.memo[(name, id(owner))] = (owner, compute())
        return hit[1]

    @classmethod
    def build(cls, rows: np.ndarray, days: np.ndarray, qty: np.ndarray | None = None) -> "Profile":
        if qty is None:
            qty = np.ones(rows.size)
        order = np.lexsort((days, rows))
        r, d, q = rows[order], days[order], qty[order]
        if r.size == 0:
            return cls.empty_profile()
        # one line per (product, order day): duplicates within an order are one purchase
        keep = np.r_[True, (r[1:] != r[:-1]) | (d[1:] != d[:-1])]
        r, d, q = r[keep], d[keep], q[keep]
        # r is sorted: product runs start where it changes
        same = np.r_[False, r[1:] == r[:-1]]
        start = np.flatnonzero(~same)
        count = np.diff(np.r_[start, r.size])
        end = start + count - 1
        gap = np.where(same, np.diff(d, prepend=0.0), np.nan)
        log_gap = np.where(same, np.log(np.maximum(gap, 0.5)), 0.0)
        n_int = count - 1
        with np.errstate(invalid="ignore", divide="ignore"):
            log_int = np.where(n_int > 0, np.add.reduceat(log_gap, start) / np.maximum(n_int, 1), np.nan)
        qsum = np.add.reduceat(q, start)
        return cls(r[start], count.astype(np.float64), d[start], d[end], log_int, gap[end],
                   qsum / count, np.unique(d), r, d)

    @classmethod
    def empty_profile(cls) -> "Profile":
        z = np.zeros(0)
        return cls(np.zeros(0, np.int64), z, z, z, z, z, z, z, np.zeros(0, np.int64), z)


def shares(keys: np.ndarray, line_keys: np.ndarray, skip_zero: bool = True) -> np.ndarray:
    """For each candidate key, the fraction of the household's lines with that key (0 = unknown key)."""
    if line_keys.size == 0:
        return np.zeros(keys.size)
    uniq, cnt = np.unique(line_keys, return_counts=True)
    pos = np.minimum(np.searchsorted(uniq, keys), uniq.size - 1)
    out = np.where(uniq[pos] == keys, cnt[pos] / line_keys.size, 0.0)
    if skip_zero:
        out[keys == 0] = 0.0
    return out
