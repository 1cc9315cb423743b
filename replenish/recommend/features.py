"""Feature matrices for the learned rankers: one row per (household, candidate product).

Missing values (a product never bought) stay NaN: the gradient-boosted models route them explicitly.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from catalog.synonyms import tokens
from replenish.recommend import churn
from replenish.recommend.profile import Profile, shares  # noqa: F401 (shares: public helper)
from replenish.recommend.stats import Attributes, Usage

if TYPE_CHECKING:
    from replenish.recommend.neighbours import Scores

SEARCH_DEPTH = 30           # text-match candidates taken from the whole catalog
HISTORY_MATCH = 0.3         # a bought product is a candidate if its text score is this close to the best
NEW_CANDIDATES = 12         # with a history: never-bought catalog matches kept for the ranker

RESOLVE_COLUMNS = [
    "text", "text_rel", "text_rank", "head_match", "bought", "log_count", "order_share",
    "match_share", "log_days_since", "due_ratio", "orders_since", "most_recent", "brand_share",
    "brand_match_share", "size_share", "leaf_share", "dept_share", "log_pop", "pop_rel", "reorder",
    "log_price", "price_rel", "log_orders", "available", "count_rank", "leaf_named", "still_buying",
    "neighbour", "neighbour_rel", "hh_share", "first_share", "leaf_pop", "organic_fit",
    "recent_share", "rate_since_first", "leaf_loyalty", "leaf_latest", "peer", "peer_rel",
]
FREQ, RECENT, POP = (RESOLVE_COLUMNS.index("log_count"), RESOLVE_COLUMNS.index("most_recent"),
                     RESOLVE_COLUMNS.index("log_pop"))

BUY_AGAIN_COLUMNS = [
    "log_count", "order_share", "log_days_since", "due_ratio", "orders_since", "in_last_order",
    "recent_share", "reorder", "log_pop", "log_orders", "log_interval", "days_since_over_gap",
    "days_since_last_order", "still_buying", "successors", "neighbour", "neighbour_rel",
    "rate_since_first", "leaf_loyalty", "leaf_latest", "peer", "peer_rel",
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
    return np.concatenate((rows, mine[extra])), np.concatenate((text, own[keep][extra]))


RECENT_ORDERS = 5  # "lately": the household's last five orders
HABITS = ["recent_share", "rate_since_first", "leaf_loyalty", "leaf_latest"]


def habits(prof: Profile, leaf: np.ndarray) -> np.ndarray:
    """Per profile product (one row each, columns ``HABITS``), memoized on the profile:

    - share of the household's last ``RECENT_ORDERS`` orders containing it;
    - share of its orders since it first bought it (a product taken up lately is not rare to it);
    - loyalty in its category: share of the household's orders with anything of the category
      (``leaf``: category code per catalog row) that contained this product;
    - whether it is the household's latest pick in its category (1), or another product was (0).
    """
    return prof.memoized("habits", leaf, lambda: _habits(prof, leaf))


def _habits(prof: Profile, leaf: np.ndarray) -> np.ndarray:
    rows, n = prof.rows, prof.order_days.size
    if rows.size == 0:
        return np.zeros((0, len(HABITS)))
    order_no = np.searchsorted(prof.order_days, prof.line_days)
    pos = np.searchsorted(rows, prof.line_rows)
    recent = np.bincount(pos, weights=order_no >= n - RECENT_ORDERS, minlength=rows.size)
    since_first = n - np.searchsorted(prof.order_days, prof.first)
    mine = leaf[rows].astype(np.int64)
    pairs = np.unique(leaf[prof.line_rows].astype(np.int64) * (n + 1) + order_no)  # distinct (category, order)
    leaf_orders = np.bincount(pairs // (n + 1), minlength=int(mine.max()) + 1)[mine]
    latest = np.full(int(mine.max()) + 1, -np.inf)
    np.maximum.at(latest, mine, prof.last)
    return np.column_stack([recent / min(RECENT_ORDERS, max(n, 1)), prof.count / np.maximum(since_first, 1),
                            prof.count / np.maximum(leaf_orders, 1), prof.last >= latest[mine]])


def _rank(values: np.ndarray) -> np.ndarray:
    """0 for the largest value, ties share the best rank (NaN ranks last)."""
    v = np.where(np.isnan(values), -np.inf, values)
    s = np.sort(v)[::-1]
    return np.searchsorted(-s, -v, side="left").astype(np.float64)


def _segment_rank(values: np.ndarray, seg: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """``_rank`` within each segment: how many values of the same segment are strictly larger."""
    if starts.size == 1:  # one segment: a plain rank (same numbers, a third of the work)
        return _rank(values)
    v = np.where(np.isnan(values), -np.inf, values)
    order = np.lexsort((-v, seg))
    sv, ss = v[order], seg[order]
    new_run = np.ones(v.size, bool)
    new_run[1:] = (ss[1:] != ss[:-1]) | (sv[1:] != sv[:-1])
    run_start = np.maximum.accumulate(np.where(new_run, np.arange(v.size), 0))
    rank = np.empty(v.size)
    rank[order] = run_start - starts[ss]
    return rank


class _Keyed:
    """Sorted integer keys with a value each; ``get`` returns the value or ``default``.

    With ``size`` (keys known to lie in ``range(size)``, a small space) lookups read a dense table
    instead, for ``default`` 0: one gather instead of a binary search and its checks."""

    def __init__(self, keys: np.ndarray, values: np.ndarray, size: int | None = None):
        self.keys, self.values = keys, values
        self.dense = None
        if size is not None:
            self.dense = np.zeros(size)
            self.dense[keys] = values

    def get(self, q: np.ndarray, default: float = 0.0) -> np.ndarray:
        if self.dense is not None and default == 0.0:
            return self.dense[q]
        if self.keys.size == 0:
            return np.full(q.size, default)
        pos = np.minimum(np.searchsorted(self.keys, q), self.keys.size - 1)
        return np.where(self.keys[pos] == q, self.values[pos], default)


def _shares(keys: np.ndarray, lines: np.ndarray, total: float) -> tuple[np.ndarray, np.ndarray]:
    """(keys, share of the household's lines with that key) from each product's key and its number
    of lines; key 0 ("unknown") shares nothing."""
    if total == 0:
        return np.zeros(0, np.int64), np.zeros(0)
    counts = np.bincount(keys, weights=lines)  # key spaces are small (brands, aisles): cheaper than sorting
    counts[0] = 0
    found = np.flatnonzero(counts)
    return found, counts[found] / total


class Tables:
    """A household's share of lines per brand, aisle, department and aisle+size, and mean price paid
    per aisle: computed once per profile (cached in ``prof.memo``) and reused by all its requests.

    Worked from the household's distinct products, each weighted by its lines (``prof.count``: one
    line per order containing it), rather than from every line: the same sums, an order of magnitude
    fewer elements (counts and prices in cents are whole numbers, so the sums are exact either way).
    """

    KINDS = ("brand", "leaf", "dept", "size")

    def __init__(self, attr: Attributes, prof: Profile):
        rows, lines, total = prof.rows, prof.count, prof.line_rows.size
        self.shares = {k: _shares(getattr(attr, k)[rows], lines, total) for k in self.KINDS}
        paid = attr.price[rows]
        priced = paid > 0
        leaf, n_priced = attr.leaf[rows][priced], lines[priced]
        spent = np.bincount(leaf, weights=paid[priced] * n_priced)
        n = np.bincount(leaf, weights=n_priced)
        keys = np.flatnonzero(n)
        self.price = (keys, spent[keys] / n[keys])

    @classmethod
    def of(cls, attr: Attributes, prof: Profile) -> Tables:
        return prof.memoized("tables", attr, lambda: cls(attr, prof))


def _stack(arrays: list[np.ndarray]) -> np.ndarray:
    if len(arrays) == 1:
        return arrays[0]
    return np.concatenate(arrays) if arrays else np.zeros(0)


def _offsets(sizes: list[int], scale: float):
    """Household ``u``'s offset ``u * scale`` for each of its entries (0 when there is one household)."""
    if len(sizes) == 1:
        return 0
    return np.repeat(np.arange(len(sizes)) * scale, sizes)


class Households:
    """Several households' profiles stacked so one set of array operations serves many requests.

    Household ``u``'s entries are keyed ``u * size + key``, which keeps every table sorted.
    """

    def __init__(self, attr: Attributes, profs: list[Profile], expected: list[np.ndarray | None]):
        self.n_products = attr.price.size
        sizes = [p.rows.size for p in profs]
        self.bought = _stack([p.rows for p in profs]).astype(np.int64) + _offsets(sizes, self.n_products)
        self.count = _stack([p.count for p in profs])
        self.last = _stack([p.last for p in profs])
        self.expected = _stack([e if e is not None else np.full(p.rows.size, np.nan)
                                for p, e in zip(profs, expected, strict=False)])
        self.successors = _stack([p.memoized("successors", attr.leaf, lambda p=p: churn.successor_orders(p, attr.leaf))
                                  for p in profs])
        self.habits = np.vstack([habits(p, attr.leaf) for p in profs]) if profs else np.zeros((0, len(HABITS)))
        n_orders = [p.n_orders for p in profs]
        self.n_orders = np.array(n_orders, np.int64)
        self.order_end = np.cumsum(self.n_orders)
        self.order_days = _stack([p.order_days for p in profs]) + _offsets(n_orders, ORDER_DAY_SPAN)
        self.organic = np.array([float(np.dot(p.count, attr.organic[p.rows]) / p.count.sum())
                                 if p.rows.size and attr.organic is not None else np.nan for p in profs])
        tables = [Tables.of(attr, p) for p in profs]
        self.sizes = {k: getattr(attr, f"n_{k}") for k in Tables.KINDS}
        # one household: its tables as dense arrays over the (small) key spaces
        self.single = len(profs) == 1
        dense = lambda k: self.sizes[k] if self.single else None  # noqa: E731
        self.shares = {}
        for k in Tables.KINDS:
            keys = [t.shares[k][0] for t in tables]
            self.shares[k] = _Keyed(_stack(keys).astype(np.int64) + _offsets([x.size for x in keys], self.sizes[k]),
                                    _stack([t.shares[k][1] for t in tables]), dense(k))
        pk = [t.price[0] for t in tables]
        self.price = _Keyed(_stack(pk).astype(np.int64) + _offsets([x.size for x in pk], self.sizes["leaf"]),
                            _stack([t.price[1] for t in tables]), dense("leaf"))

    def key(self, kind: str, u: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """Keys of household ``u``'s entries in the stacked tables."""
        return keys if self.single else u * self.sizes[kind] + keys

    def share(self, kind: str, u: np.ndarray, keys: np.ndarray) -> np.ndarray:
        return self.shares[kind].get(self.key(kind, u, keys))


ORDER_DAY_SPAN = 1e6  # days since 1970 stay far below this, so (household, day) pairs sort correctly


def resolve_features(attr: Attributes, usage: Usage, prof: Profile, expected: np.ndarray | None,
                     rows: np.ndarray, text: np.ndarray, phrase: str, now: float,
                     neighbour: np.ndarray | None = None, peer: np.ndarray | None = None) -> np.ndarray:
    """``expected`` holds the household's expected repurchase interval per profile product."""
    stack = Households(attr, [prof], [expected])
    return resolve_features_many(attr, usage, stack, np.zeros(1, np.int64), [rows], [text], [phrase],
                                 np.array([now], np.float64), None if neighbour is None else [neighbour],
                                 None if peer is None else [peer])


def resolve_features_many(attr: Attributes, usage: Usage, hh: Households, req_hh: np.ndarray,
                          rows_list: list[np.ndarray], text_list: list[np.ndarray], phrases: list[str],
                          now: np.ndarray, neighbour_list: list[np.ndarray] | None = None,
                          peer_list: list[np.ndarray] | None = None) -> np.ndarray:
    """Feature rows of many requests at once: request i is (household ``req_hh[i]``, its candidate
    rows and text scores, its phrase, its time, and optionally the neighbour and peer scores of each
    candidate, see ``neighbours``). Rows come out in request order."""
    sizes = np.array([r.size for r in rows_list], np.int64)
    n = int(sizes.sum())
    if n == 0:
        return np.zeros((n, len(RESOLVE_COLUMNS)))
    out = np.empty((n, len(RESOLVE_COLUMNS)))  # every column is written below
    starts = np.zeros(sizes.size, np.int64)
    np.cumsum(sizes[:-1], out=starts[1:])
    seg = np.repeat(np.arange(sizes.size), sizes)
    if sizes.size == 1:  # one request (every first request of a household): plain reductions
        rows, text = rows_list[0].astype(np.int64), text_list[0].astype(np.float64)
        per_request = lambda ufunc, v: ufunc.reduce(v)  # noqa: E731
    else:
        rows = np.concatenate(rows_list).astype(np.int64)
        text = np.concatenate(text_list).astype(np.float64)
        nonempty = sizes > 0
        first, which = starts[nonempty], np.cumsum(nonempty) - 1
        per_request = lambda ufunc, v: ufunc.reduceat(v, first)[which][seg]  # noqa: E731
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
    expected = np.where(bought, hh.expected[pos] if hh.bought.size else np.nan, np.nan)
    due = since / expected
    successors = np.where(bought, hh.successors[pos] if hh.bought.size else 0.0, 0.0)
    after = hh.order_end[u] - np.searchsorted(hh.order_days, u * ORDER_DAY_SPAN + np.where(bought, last, 0.0),
                                              side="right")
    n_orders = hh.n_orders[u]
    # per-request reductions (sums of whole numbers: exact in any order)
    match_total = per_request(np.add, count)
    brand = attr.brand[rows]
    # share of the request's matching purchases that went to each candidate's brand
    bkey = seg * attr.n_brand + brand
    keys, inv = np.unique(bkey, return_inverse=True)
    per_brand = np.bincount(inv, weights=count, minlength=keys.size)[inv]
    any_bought = per_request(np.add, bought.astype(np.int64)) > 0
    latest = per_request(np.fmax, last)
    heads = np.array([attr.head_words.get(w[-1], -1) if (w := tokens(p)) else -1 for p in phrases], np.int64)
    leaf = attr.leaf[rows]
    pop = usage.lines[rows]
    price = attr.price[rows]
    width = sizes[seg]
    with np.errstate(invalid="ignore", divide="ignore"):
        out[:, 0] = text
        out[:, 1] = text / np.maximum(per_request(np.maximum, text), 1e-9)
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
        leaf_share = hh.share("leaf", u, leaf)
        out[:, 14] = np.minimum(hh.share("size", u, attr.size[rows]) / np.maximum(leaf_share, 1e-9), 1.0)
        out[:, 15] = leaf_share
        out[:, 16] = hh.share("dept", u, attr.dept[rows])
        out[:, 17] = np.log1p(pop)
        out[:, 18] = pop / np.maximum(per_request(np.maximum, pop), 1.0)
        out[:, 19] = usage.reorder[rows]
        out[:, 20] = np.where(price > 0, np.log(np.maximum(price, 1)), np.nan)
        mean = hh.price.get(hh.key("leaf", u, leaf))
        out[:, 21] = np.where((mean > 0) & (price > 0), price / np.where(mean > 0, mean, 1), np.nan)
        out[:, 22] = np.log1p(n_orders)
        out[:, 23] = attr.available[rows]
        out[:, 24] = _segment_rank(count, seg, starts) / np.maximum(width, 1)
        out[:, 25] = _stack([attr.leaf_named(ph)[attr.leaf[r]] for ph, r in zip(phrases, rows_list, strict=False)]) \
            if n else np.zeros(0)
        out[:, 26] = churn.probability(count, since, expected, successors)
        nb = _stack(neighbour_list) if neighbour_list is not None else np.full(n, np.nan)
        out[:, 27] = nb
        out[:, 28] = nb / np.maximum(per_request(np.fmax, nb), 1e-12)
        hh_pop = usage.households[rows]
        out[:, 29] = hh_pop / np.maximum(per_request(np.add, hh_pop), 1.0)
        first_pick = usage.first[rows] if usage.first is not None else np.zeros(n)
        out[:, 30] = first_pick / np.maximum(per_request(np.add, first_pick), 1.0)
        out[:, 31] = (usage.leaf_households[leaf] / usage.n_households if usage.n_households
                      and usage.leaf_households is not None and usage.leaf_households.size > int(leaf.max())
                      else np.zeros(n))
        share = hh.organic[u]
        org = attr.organic[rows] if attr.organic is not None else np.zeros(n, bool)
        out[:, 32] = np.where(org, share, 1.0 - share)
        mine = hh.habits[pos] if hh.bought.size else np.zeros((n, len(HABITS)))
        out[:, 33:33 + len(HABITS)] = np.where(bought[:, None], mine, 0.0)
        pe = _stack(peer_list) if peer_list is not None else np.full(n, np.nan)
        out[:, 37] = pe
        out[:, 38] = pe / np.maximum(per_request(np.fmax, pe), 1e-12)
    return out


def buy_again_features(usage: Usage, prof: Profile, expected: np.ndarray, now: float,
                       kind: np.ndarray | None = None, neighbour: Scores | None = None,
                       peer: Scores | None = None) -> np.ndarray:
    """One row per product in ``prof.rows``; ``expected`` is the household's interval per product;
    ``kind``: category code per catalog row, for succession and habits; ``neighbour`` and ``peer``:
    scores over the catalog (see ``neighbours``)."""
    rows = prof.rows
    successors = np.zeros(rows.size) if kind is None else \
        prof.memoized("successors", kind, lambda: churn.successor_orders(prof, kind))
    since = now - prof.last
    recent_days = prof.order_days[-5:]
    recent = np.bincount(np.searchsorted(rows, prof.line_rows[np.isin(prof.line_days, recent_days)]),
                         minlength=rows.size)
    gap = prof.order_gap
    last_order = prof.order_days[-1] if prof.order_days.size else now
    nb = neighbour[rows] if neighbour is not None else np.full(rows.size, np.nan)
    pe = peer[rows] if peer is not None else np.full(rows.size, np.nan)
    mine = habits(prof, kind)[:, 1:] if kind is not None else np.full((rows.size, len(HABITS) - 1), np.nan)
    return np.column_stack([
        np.log1p(prof.count), prof.count / max(prof.n_orders, 1), np.log1p(np.maximum(since, 0)),
        since / expected, prof.orders_since(prof.last), prof.last == last_order,
        recent / max(recent_days.size, 1), usage.reorder[rows], np.log1p(usage.lines[rows]),
        np.full(rows.size, np.log1p(prof.n_orders)), np.log(expected),
        since / gap if gap == gap and gap > 0 else np.full(rows.size, np.nan),
        np.full(rows.size, now - last_order),
        churn.probability(prof.count, since, expected, successors), successors,
        nb, _relative(nb), mine, pe, _relative(pe),
    ]).astype(np.float64)


def _relative(v: np.ndarray) -> np.ndarray:
    """``v`` over its largest value (NaN stays NaN)."""
    return v / max(float(np.nanmax(v)), 1e-12) if v.size and not np.isnan(v).all() else v

