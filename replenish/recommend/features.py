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
NEW_CANDIDATES = 12         # with a history: never-bought catalog matches kept for the ranker

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


def candidates(prof: Profile, dense: np.ndarray, rows: np.ndarray, text: np.ndarray,
               pop: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Catalog top matches plus the household's own products that match nearly as well.

    With a history (and ``pop``, product popularity by row), catalog matches the household never
    bought are cut to the NEW_CANDIDATES best by the no-history score (good matches people buy):
    the ranker rarely picks past them, and every row costs a pass through all its trees.
    """
    if prof.empty or rows.size == 0:
        return rows, text
    if pop is not None and rows.size > NEW_CANDIDATES:
        _, mine_mask = prof.lookup(rows)
        p = pop[rows]
        prior = 0.65 * text / max(float(text.max()), 1e-9) + 0.35 * p / max(float(p.max()), 1.0)
        prior[mine_mask] = np.inf
        keep = np.sort(np.argsort(-prior, kind="stable")[:NEW_CANDIDATES + int(mine_mask.sum())])
        rows, text = rows[keep], text[keep]
    own = dense[prof.rows]
    keep = np.flatnonzero(own >= max(0.1, HISTORY_MATCH * float(text.max())))
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


def _segment_rank(values: np.ndarray, seg: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """``_rank`` within each segment: how many values of the same segment are strictly larger."""
    v = np.nan_to_num(values, nan=-np.inf)
    order = np.lexsort((-v, seg))
    sv, ss = v[order], seg[order]
    idx = np.arange(v.size)
    new_run = np.r_[True, (ss[1:] != ss[:-1]) | (sv[1:] != sv[:-1])]
    run_start = np.maximum.accumulate(np.where(new_run, idx, 0))
    rank = np.empty(v.size)
    rank[order] = run_start - starts[ss]
    return rank


class _Keyed:
    """Sorted integer keys with a value each; ``get`` returns the value or ``default``."""

    def __init__(self, keys: np.ndarray, values: np.ndarray):
        self.keys, self.values = keys, values

    def get(self, q: np.ndarray, default: float = 0.0) -> np.ndarray:
        if self.keys.size == 0:
            return np.full(q.size, default)
        pos = np.minimum(np.searchsorted(self.keys, q), self.keys.size - 1)
        return np.where(self.keys[pos] == q, self.values[pos], default)


def _shares(line_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(keys, share of the household's lines with that key); key 0 ("unknown") shares nothing."""
    if line_keys.size == 0:
        return np.zeros(0, np.int64), np.zeros(0)
    counts = np.bincount(line_keys)  # key spaces are small (brands, aisles): cheaper than sorting
    counts[0] = 0
    keys = np.flatnonzero(counts)
    return keys, counts[keys] / line_keys.size


class Tables:
    """A household's share of lines per brand, aisle, department and aisle+size, and mean price paid
    per aisle: computed once per profile (cached in ``prof.memo``) and reused by all its requests."""

    KINDS = ("brand", "leaf", "dept", "size")

    def __init__(self, attr: Attributes, prof: Profile):
        lines = prof.line_rows
        self.shares = {k: _shares(getattr(attr, k)[lines]) for k in self.KINDS}
        paid = attr.price[lines]
        priced = paid > 0
        leaf = attr.leaf[lines][priced]
        total = np.bincount(leaf, weights=paid[priced])
        n = np.bincount(leaf)
        keys = np.flatnonzero(n)
        self.price = (keys, total[keys] / n[keys])

    @classmethod
    def of(cls, attr: Attributes, prof: Profile) -> "Tables":
        return prof.memoized("tables", attr, lambda: cls(attr, prof))


class Households:
    """Several households' profiles stacked so one set of array operations serves many requests.

    Household ``u``'s entries are keyed ``u * size + key``, which keeps every table sorted.
    """

    def __init__(self, attr: Attributes, profs: list[Profile], expected: list[np.ndarray | None]):
        self.n_products = attr.price.size
        u_of = lambda sizes: np.repeat(np.arange(len(profs)), sizes)  # noqa: E731
        sizes = [p.rows.size for p in profs]
        u = u_of(sizes)
        cat = lambda arrays: np.concatenate(arrays) if arrays else np.zeros(0)  # noqa: E731
        self.bought = cat([p.rows for p in profs]).astype(np.int64) + u * self.n_products
        self.count = cat([p.count for p in profs])
        self.last = cat([p.last for p in profs])
        self.expected = cat([e if e is not None else np.full(p.rows.size, np.nan)
                             for p, e in zip(profs, expected)])
        n_orders = np.array([p.n_orders for p in profs], np.int64)
        self.n_orders = n_orders
        self.order_end = np.cumsum(n_orders)
        self.order_days = cat([p.order_days for p in profs]) + u_of(n_orders) * ORDER_DAY_SPAN
        tables = [Tables.of(attr, p) for p in profs]
        self.sizes = {k: getattr(attr, f"n_{k}") for k in Tables.KINDS}
        self.shares = {}
        for k in Tables.KINDS:
            keys = [t.shares[k][0] for t in tables]
            su = u_of([x.size for x in keys])
            self.shares[k] = _Keyed(cat(keys).astype(np.int64) + su * self.sizes[k],
                                    cat([t.shares[k][1] for t in tables]))
        pk = [t.price[0] for t in tables]
        pu = u_of([x.size for x in pk])
        self.price = _Keyed(cat(pk).astype(np.int64) + pu * self.sizes["leaf"], cat([t.price[1] for t in tables]))

    def share(self, kind: str, u: np.ndarray, keys: np.ndarray) -> np.ndarray:
        return self.shares[kind].get(u * self.sizes[kind] + keys)


ORDER_DAY_SPAN = 1e6  # days since 1970 stay far below this, so (household, day) pairs sort correctly


def resolve_features(attr: Attributes, usage: Usage, prof: Profile, expected: np.ndarray | None,
                     rows: np.ndarray, text: np.ndarray, phrase: str, now: float) -> np.ndarray:
    """``expected`` holds the household's expected repurchase interval per profile product."""
    stack = Households(attr, [prof], [expected])
    return resolve_features_many(attr, usage, stack, np.zeros(1, np.int64), [rows], [text], [phrase],
                                 np.array([now], np.float64))


def resolve_features_many(attr: Attributes, usage: Usage, hh: Households, req_hh: np.ndarray,
                          rows_list: list[np.ndarray], text_list: list[np.ndarray], phrases: list[str],
                          now: np.ndarray) -> np.ndarray:
    """Feature rows of many requests at once: request i is (household ``req_hh[i]``, its candidate
    rows and text scores, its phrase, its time). Rows come out in request order."""
    sizes = np.array([r.size for r in rows_list], np.int64)
    n = int(sizes.sum())
    out = np.zeros((n, len(RESOLVE_COLUMNS)))
    if n == 0:
        return out
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    nonempty = sizes > 0
    seg = np.repeat(np.arange(sizes.size), sizes)
    rows = np.concatenate(rows_list).astype(np.int64)
    text = np.concatenate(text_list).astype(np.float64)
    u = req_hh[seg]
    # the household's own history with each candidate
    q = u * hh.n_products + rows
    if hh.bought.size:
        pos = np.minimum(np.searchsorted(hh.bought, q), hh.bought.size - 1)
        bought = hh.bought[pos] == q
    else:
        pos, bought = np.zeros(n, np.int64), np.zeros(n, bool)
    count = np.where(bought, hh.count[pos] if hh.bought.size else 0.0, 0.0)
    last = np.where(bought, hh.last[pos] if hh.bought.size else np.nan, np.nan)
    since = now[seg] - last
    due = since / np.where(bought, hh.expected[pos] if hh.bought.size else np.nan, np.nan)
    after = hh.order_end[u] - np.searchsorted(hh.order_days, u * ORDER_DAY_SPAN + np.nan_to_num(last), side="right")
    n_orders = hh.n_orders[u]
    # per-request reductions
    seg_max = lambda v: np.maximum.reduceat(v, starts[nonempty])[np.cumsum(nonempty) - 1][seg]  # noqa: E731
    match_total = np.add.reduceat(count, starts[nonempty])[np.cumsum(nonempty) - 1][seg]
    brand = attr.brand[rows]
    # share of the request's matching purchases that went to each candidate's brand
    bkey = seg * attr.n_brand + brand
    keys, inv = np.unique(bkey, return_inverse=True)
    per_brand = np.bincount(inv, weights=count, minlength=keys.size)[inv]
    any_bought = np.add.reduceat(bought.astype(np.int64), starts[nonempty])[np.cumsum(nonempty) - 1][seg] > 0
    latest = np.fmax.reduceat(last, starts[nonempty])[np.cumsum(nonempty) - 1][seg]
    heads = np.array([attr.head_words.get(w[-1], -1) if (w := tokens(p)) else -1 for p in phrases], np.int64)
    leaf = attr.leaf[rows]
    pop = usage.lines[rows]
    price = attr.price[rows]
    width = sizes[seg]
    with np.errstate(invalid="ignore", divide="ignore"):
        out[:, 0] = text
        out[:, 1] = text / np.maximum(seg_max(text), 1e-9)
        out[:, 2] = _segment_rank(text, seg, starts) / np.maximum(width, 1)
        out[:, 3] = attr.head[rows] == heads[seg]
        out[:, 4] = bought
        out[:, 5] = np.log1p(count)
        out[:, 6] = count / np.maximum(n_orders, 1)
        out[:, 7] = np.where(match_total > 0, count / np.where(match_total > 0, match_total, 1), 0.0)
        out[:, 8] = np.log1p(np.maximum(since, 0))
        out[:, 9] = due
        out[:, 10] = np.where(bought, after, np.nan)
        out[:, 11] = np.where(any_bought, last == latest, 0.0)
        out[:, 12] = hh.share("brand", u, brand)
        out[:, 13] = np.where(match_total > 0, per_brand / np.where(match_total > 0, match_total, 1), 0.0)
        out[:, 14] = np.minimum(hh.share("size", u, attr.size[rows]) / np.maximum(hh.share("leaf", u, leaf), 1e-9), 1.0)
        out[:, 15] = hh.share("leaf", u, leaf)
        out[:, 16] = hh.share("dept", u, attr.dept[rows])
        out[:, 17] = np.log1p(pop)
        out[:, 18] = pop / np.maximum(seg_max(pop), 1.0)
        out[:, 19] = usage.reorder[rows]
        out[:, 20] = np.where(price > 0, np.log(np.maximum(price, 1)), np.nan)
        mean = hh.price.get(u * hh.sizes["leaf"] + leaf)
        out[:, 21] = np.where((mean > 0) & (price > 0), price / np.where(mean > 0, mean, 1), np.nan)
        out[:, 22] = np.log1p(n_orders)
        out[:, 23] = attr.available[rows]
        out[:, 24] = _segment_rank(count, seg, starts) / np.maximum(width, 1)
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

