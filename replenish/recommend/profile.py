"""A household's purchase history, summarised per product as numpy arrays.

Times are float days since the Unix epoch. A household may put one product in an order on several
lines; we count *orders containing* a product, which is what repurchase cycles are made of.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import ne

import numpy as np

from replenish.domain.history import Purchase

DAY = 86400.0


def to_day(t: datetime) -> float:
    return t.timestamp() / DAY


def from_day(d: float) -> datetime:
    return datetime.fromtimestamp(d * DAY, tz=UTC)


def encode(history: Sequence[Purchase], row_of: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(product rows, days, quantities) of purchases whose sku is in the catalog."""
    # this runs for every line of every uncached household: comprehensions are the cheapest way
    # to read attributes in CPython 3.11+ (about twice as fast as map() over attrgetters)
    n = len(history)
    get = row_of.get
    rows = np.fromiter([get(p.sku, -1) for p in history], np.int64, n)
    days = _days([p.ordered_at for p in history])
    qty = np.array([p.quantity for p in history], np.float64)
    known = rows >= 0
    if known.all():
        return rows, days, qty
    return rows[known], days[known], qty[known]


def _days(ats: list[datetime]) -> np.ndarray:
    """Days since the epoch of each time. The lines of one order share a time and sit together, so
    each run of equal times is converted once (``timestamp()`` per line cost more than the rest)."""
    n = len(ats)
    if n == 0:
        return np.zeros(0)
    starts = np.flatnonzero(np.fromiter(map(ne, ats[1:], ats[:-1]), bool, n - 1)) + 1
    if starts.size > n // 4:  # mostly one-line orders: a table of the distinct times is cheaper
        seconds: dict[datetime, float] = {t: t.timestamp() for t in dict.fromkeys(ats)}
        return np.fromiter(map(seconds.__getitem__, ats), np.float64, n) / DAY
    first = np.zeros(starts.size + 1, np.int64)
    first[1:] = starts
    stamps = np.array([ats[i].timestamp() for i in first.tolist()], np.float64) / DAY
    return np.repeat(stamps, np.diff(first, append=n))


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
    def build(cls, rows: np.ndarray, days: np.ndarray, qty: np.ndarray | None = None) -> Profile:
        if qty is None:
            qty = np.ones(rows.size)
        if rows.size == 0:
            return cls.empty_profile()
        # sort by (product, day). Histories usually arrive in time order (either way round): then the
        # order days are numbered in one pass and a stable sort on (product, day number) gives the
        # same order as the general lexsort, with the distinct order days read off on the way.
        order_days = None
        direction = 1 if (days[1:] >= days[:-1]).all() else -1 if (days[1:] <= days[:-1]).all() else 0
        if direction:
            new_day = np.ones(rows.size, bool)
            np.not_equal(days[1:], days[:-1], out=new_day[1:])
            day_no = np.cumsum(new_day) - 1
            n_days = int(day_no[-1]) + 1
            if direction < 0:
                day_no = (n_days - 1) - day_no
            order = np.argsort(rows.astype(np.int64, copy=False) * n_days + day_no, kind="stable")
            order_days = days[new_day] if direction > 0 else days[new_day][::-1].copy()
        else:
            order = np.lexsort((days, rows))
        r, d, q = rows[order], days[order], qty[order]
        n = r.size
        # one line per (product, order day): duplicates within an order are one purchase
        same = np.zeros(n, bool)
        np.equal(r[1:], r[:-1], out=same[1:])  # r is sorted: a product's run continues
        keep = ~same
        keep[1:] |= d[1:] != d[:-1]
        if not keep.all():
            r, d, q = r[keep], d[keep], q[keep]
            n = r.size
            same = np.zeros(n, bool)
            np.equal(r[1:], r[:-1], out=same[1:])
        start = np.flatnonzero(~same)
        end = np.empty_like(start)
        end[:-1] = start[1:] - 1
        end[-1] = n - 1
        count = end - start + 1
        gap = np.full(n, np.nan)
        gap[1:] = d[1:] - d[:-1]
        gap[~same] = np.nan
        log_gap = np.log(np.maximum(gap, 0.5))
        log_gap[~same] = 0.0
        n_int = count - 1
        with np.errstate(invalid="ignore", divide="ignore"):
            log_int = np.where(n_int > 0, np.add.reduceat(log_gap, start) / np.maximum(n_int, 1), np.nan)
        qsum = np.add.reduceat(q, start)
        if order_days is None:
            order_days = np.unique(d)
        return cls(r[start], count.astype(np.float64), d[start], d[end], log_int, gap[end],
                   qsum / count, order_days, r, d)

    @classmethod
    def empty_profile(cls) -> Profile:
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
