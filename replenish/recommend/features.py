"""Feature matrices for the learned rankers: one row per (household, candidate product).

Missing values (a product never bought) stay NaN: the gradient-boosted models route them explicitly.
"""
from __future__ import annotations

import numpy as np

from catalog.synonyms import tokens
from replenish.recommend.profile import Profile, shares
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
    keep = own >= max(0.1, HISTORY_MATCH * float(text[0]))
    extra = ~np.isin(prof.rows[keep], rows)
    rows = np.r_[rows, prof.rows[keep][extra]]
    text = np.r_[text, own[keep][extra]]
    return rows, text


def _rank(values: np.ndarray) -> np.ndarray:
    """0 for the largest value, ties share the best rank (NaN ranks last)."""
    v = np.nan_to_num(values, nan=-np.inf)
    s = np.sort(v)[::-1]
    return np.searchsorted(-s, -v, side="left").astype(np.float64)


def resolve_features(attr: Attributes, usage: Usage, prof: Profile, expected: np.ndarray | None,
                     rows: np.ndarray, text: np.ndarray, phrase: str, now: float) -> np.ndarray:
    """``expected`` holds the household's expected repurchase interval per profile product."""
    n = rows.size
    pos, bought = prof.lookup(rows)
    nan = np.full(n, np.nan)
    count = np.where(bought, prof.count[pos] if n and not prof.empty else 0, 0.0)
    last = np.where(bought, prof.last[pos] if n and not prof.empty else 0, np.nan)
    since = now - last
    due = since / expected[pos] if expected is not None and not prof.empty else nan
    words = tokens(phrase)
    head = attr.head_words.get(words[-1], -1) if words else -1
    brand = attr.brand[rows]
    match_total = count.sum()
    _, brand_inv = np.unique(brand, return_inverse=True)
    brand_match = (np.bincount(brand_inv, weights=count)[brand_inv] / match_total) if match_total else np.zeros(n)
    leaf_lines = attr.leaf[prof.line_rows]
    size_share = shares(attr.size[rows], attr.size[prof.line_rows]) / np.maximum(shares(attr.leaf[rows], leaf_lines), 1e-9)
    pop = usage.lines[rows]
    price = attr.price[rows]
    return np.column_stack([
        text, text / max(float(text.max()), 1e-9) if n else text, _rank(text) / max(n, 1),
        attr.head[rows] == head, bought, np.log1p(count), count / max(prof.n_orders, 1),
        count / match_total if match_total else np.zeros(n),
        np.log1p(np.maximum(since, 0)), due, np.where(bought, prof.orders_since(last), np.nan),
        (last == np.nanmax(last)) if bought.any() else np.zeros(n),
        shares(brand, attr.brand[prof.line_rows]), brand_match, np.minimum(size_share, 1.0),
        shares(attr.leaf[rows], leaf_lines), shares(attr.dept[rows], attr.dept[prof.line_rows]),
        np.log1p(pop), pop / max(float(pop.max()), 1.0) if n else pop, usage.reorder[rows],
        np.where(price > 0, np.log(np.maximum(price, 1)), np.nan), _price_rel(attr, prof, rows),
        np.full(n, np.log1p(prof.n_orders)), attr.available[rows], _rank(count) / max(n, 1),
    ]).astype(np.float64)


def _price_rel(attr: Attributes, prof: Profile, rows: np.ndarray) -> np.ndarray:
    """Candidate price over the household's mean price paid in that aisle (NaN if unknown)."""
    paid = attr.price[prof.line_rows]
    priced = paid > 0
    if not priced.any():
        return np.full(rows.size, np.nan)
    leaf = attr.leaf[prof.line_rows][priced]
    size = int(max(leaf.max(), attr.leaf[rows].max())) + 1
    total = np.bincount(leaf, weights=paid[priced], minlength=size)
    n = np.bincount(leaf, minlength=size)
    mean = total[attr.leaf[rows]] / np.maximum(n[attr.leaf[rows]], 1)
    return np.where((mean > 0) & (attr.price[rows] > 0), attr.price[rows] / np.where(mean > 0, mean, 1), np.nan)


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

