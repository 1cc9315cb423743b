"""Feature matrices for the learned rankers: one row per (household, candidate product).

Missing values (a product never bought) stay NaN: the gradient-boosted models route them explicitly.
"""
from __future__ import annotations

import numpy as np

from catalog.synonyms import tokens
from replenish.recommend.profile import Profile, shares  # noqa: F401 (shares: public helper)
from replenish.recommend.stats import Attributes, Usage

SEARCH_DEPTH = 30           # text-match candidates taken from the whole catalog
HISTORY_MATCH = 0.3         # a bought product is a candidate if its text score is this close to the best

RESOLVE_COLUMNS = [
    "text", "text_rel", "text_rank", "head_match", "bought", "log_count", "order_share",
    "match_share", "log_days_since", "due_ratio", "orders_since", "most_recent", "brand_share",
    "brand_match_share", "size_share", "leaf_share", "dept_share", "log_pop", "pop_rel", "reorder",
    "log_price", "price_rel", "log_orders", "available", "count_rank",
]
FREQ, RECENT, POP = RESOLVE_COLUMNS.index("log_count"), RESOLVE_COLUMNS.index("most_recent"), RESOLVE_COLUMNS.index("log_pop")

BUY_AGAIN_COLUMNS = [
    "log_count", "order_share", "log_days_since", "due_ratio", "orders_since", "in_last_order",
    "recent_share", "reorder", "log_pop", "log_orders", "log_interval", "days_since_over_gap",
    "days_since_last_order",
]


def candidates(prof: Profile, dense: np.ndarray, rows: np.ndarray, text: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """Catalog top matches plus the household's own products that match nearly as well."""
    if prof.empty or rows.size == 0:
        return rows, text
    own = dense[prof.rows]
    keep = np.flatnonzero(own >= max(0.1, HISTORY_MATCH * float(text[0])))
    if keep.size == 0:
        return rows, text
    mine = prof.rows[keep]
    extra = (mine[:, None] != rows[None, :]).all(axis=1)  # both sides are short: no sorting needed
    return np.r_[rows, mine[extra]], np.r_[text, own[keep][extra]]


def _rank(values: np.ndarray) -> np.ndarray:
    """0 for the largest value, ties share the best rank (NaN ranks last)."""
    v = np.nan_to_num(values, nan=-np.inf)
    s = np.sort(v)[::-1]
    return np.searchsorted(-s, -v, side="left").astype(np.float64)


class Tables:
    """Per-household lookup tables over catalog keys, computed once per profile and reused by every
    request of that household: share of the household's lines per brand, aisle, department and
    aisle+size, and mean price paid per aisle."""

    def __init__(self, attr: Attributes, prof: Profile):
        lines = prof.line_rows
        self.brand = self._shares(attr.brand[lines], attr.n_brand)
        self.leaf = self._shares(attr.leaf[lines], attr.n_leaf)
        self.dept = self._shares(attr.dept[lines], attr.n_dept)
        self.size = self._shares(attr.size[lines], attr.n_size)
        paid = attr.price[lines]
        priced = paid > 0
        self.any_price = bool(priced.any())
        if self.any_price:
            leaf = attr.leaf[lines][priced]
            total = np.bincount(leaf, weights=paid[priced], minlength=attr.n_leaf)
            n = np.bincount(leaf, minlength=attr.n_leaf)
            self.leaf_price = total / np.maximum(n, 1)

    @staticmethod
    def _shares(line_keys: np.ndarray, size: int) -> np.ndarray:
        if line_keys.size == 0:
            return np.zeros(size)
        table = np.bincount(line_keys, minlength=size) / line_keys.size
        table[0] = 0.0  # key 0 means "unknown": sharing it says nothing
        return table

    @classmethod
    def of(cls, attr: Attributes, prof: Profile) -> "Tables":
        key = ("tables", id(attr))
        t = prof.memo.get(key)
        if t is None:
            t = prof.memo[key] = cls(attr, prof)
        return t


def resolve_features(attr: Attributes, usage: Usage, prof: Profile, expected: np.ndarray | None,
                     rows: np.ndarray, text: np.ndarray, phrase: str, now: float) -> np.ndarray:
    """``expected`` holds the household's expected repurchase interval per profile product."""
    n = rows.size
    tab = Tables.of(attr, prof)
    out = np.empty((n, len(RESOLVE_COLUMNS)))
    if prof.empty:
        bought = np.zeros(n, bool)
        count, last, due = np.zeros(n), np.full(n, np.nan), np.full(n, np.nan)
        orders_since = np.full(n, np.nan)
    else:
        pos, bought = prof.lookup(rows)
        count = np.where(bought, prof.count[pos], 0.0)
        last = np.where(bought, prof.last[pos], np.nan)
        due = (now - last) / expected[pos] if expected is not None else np.full(n, np.nan)
        orders_since = np.where(bought, prof.orders_since(last), np.nan)
    since = now - last
    words = tokens(phrase)
    head = attr.head_words.get(words[-1], -1) if words else -1
    brand = attr.brand[rows]
    match_total = count.sum()
    leaf = attr.leaf[rows]
    pop = usage.lines[rows]
    price = attr.price[rows]
    text_max = float(text.max()) if n else 0.0
    out[:, 0] = text
    out[:, 1] = text / max(text_max, 1e-9)
    out[:, 2] = _rank(text) / max(n, 1)
    out[:, 3] = attr.head[rows] == head
    out[:, 4] = bought
    out[:, 5] = np.log1p(count)
    out[:, 6] = count / max(prof.n_orders, 1)
    if match_total:
        out[:, 7] = count / match_total
        # share of the household's matching purchases that went to each candidate's brand
        per_brand = np.bincount(brand, weights=count, minlength=attr.n_brand)
        out[:, 13] = per_brand[brand] / match_total
    else:
        out[:, 7] = 0.0
        out[:, 13] = 0.0
    with np.errstate(invalid="ignore"):
        out[:, 8] = np.log1p(np.maximum(since, 0))
    out[:, 9] = due
    out[:, 10] = orders_since
    out[:, 11] = (last == np.nanmax(last)) if bought.any() else 0.0
    out[:, 12] = tab.brand[brand]
    out[:, 14] = np.minimum(tab.size[attr.size[rows]] / np.maximum(tab.leaf[leaf], 1e-9), 1.0)
    out[:, 15] = tab.leaf[leaf]
    out[:, 16] = tab.dept[attr.dept[rows]]
    out[:, 17] = np.log1p(pop)
    out[:, 18] = pop / max(float(pop.max()), 1.0) if n else pop
    out[:, 19] = usage.reorder[rows]
    out[:, 20] = np.where(price > 0, np.log(np.maximum(price, 1)), np.nan)
    if tab.any_price:
        mean = tab.leaf_price[leaf]
        ok = (mean > 0) & (price > 0)
        out[:, 21] = np.where(ok, price / np.where(mean > 0, mean, 1), np.nan)
    else:
        out[:, 21] = np.nan
    out[:, 22] = np.log1p(prof.n_orders)
    out[:, 23] = attr.available[rows]
    out[:, 24] = _rank(count) / max(n, 1)
    return out


def buy_again_features(usage: Usage, prof: Profile, expected: np.ndarray, now: float) -> np.ndarray:
    """One row per product in ``prof.rows``; ``expected`` is the household's interval per product."""
    rows = prof.rows
    since = now - prof.last
    recent_days = prof.order_days[-5:]
    recent = np.bincount(np.searchsorted(rows, prof.line_rows[np.isin(prof.line_days, recent_days)]),
                         minlength=rows.size)
    gap = prof.order_gap
    last_order = prof.order_days[-1] if prof.order_days.size else now
    return np.column_stack([
        np.log1p(prof.count), prof.count / max(prof.n_orders, 1), np.log1p(np.maximum(since, 0)),
        since / expected, prof.orders_since(prof.last), prof.last == last_order,
        recent / max(recent_days.size, 1), usage.reorder[rows], np.log1p(usage.lines[rows]),
        np.full(rows.size, np.log1p(prof.n_orders)), np.log(expected),
        since / gap if gap == gap and gap > 0 else np.full(rows.size, np.nan),
        np.full(rows.size, now - last_order),
    ]).astype(np.float64)

