"""Repurchase timing: days from a household's last purchase of a product to its next one.

Base estimate (Poisson-Gamma, as in Amazon's "Buy It Again"): purchases of a product by a household
arrive at an unknown rate with a Gamma prior centred on the product's pooled interval; after n
intervals spanning T days the posterior mean interval is (k * prior + T) / (k + n). Sparse
households lean on the prior, regular ones on themselves; k is chosen on held-back data.
A gradient-boosted model (absolute error: the MAE it is judged by) then corrects it, with quantile
models for the low/high interval. A repurchase gap is a sum of the household's order gaps (the
product comes back in one of its next orders), so besides the product's own intervals it sees the
household's order rhythm as of the interval's start: its last three order gaps and their mean, its
median order gap, the share of its orders since the product's first purchase that contained it,
orders per interval, orders between the product's last two purchases, and orders per interval times
the recent order gap (a second base estimate in days). Training weighs the intervals that ended
nearest the end of each history most (``LATER_DECAY``).

Every feature describes the household *as of the purchase the interval starts from*. Time elapsed
since then is deliberately not a feature: examples only exist for intervals that ended, so "days
already waited" would teach the model that whatever is overdue is bought at the very next order
(in evaluation it read the answer off the held-out order: MAE 5 days against 29 for the baselines).
Training examples are the completed intervals that ended in a household's last ``RECENT_ORDERS``
orders, each with features computed from the purchases up to its start only (``interval_examples``),
exactly as ``features`` computes them when serving. The one exception, ``later_orders`` (orders placed
after the interval *ended*), says nothing about the interval itself: it tells training intervals
apart by how far from the history's end they lie, and is 0 when serving.
"""
from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

from replenish.recommend.forest import FlatForest
from replenish.recommend.profile import Profile
from replenish.recommend.stats import Usage

K_GRID = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
SPREAD = 0.55  # log-space spread of intervals around the estimate, used without a learned model
COLUMNS = ["pg", "geo_mean", "last_int", "n_int", "prior", "cadence", "order_share", "reorder",
           "mean_int", "span_orders", "median_int", "tenure", "orders_upto", "log_pop", "log_households",
           # the household's order rhythm as of the interval's start: a repurchase gap is a sum of order gaps
           "gap_1", "gap_2", "gap_3", "recent_gap", "median_gap", "share_since_first", "orders_per_int",
           "last_int_orders", "by_orders", "recent_int", "last_to_mean",
           "later_orders"]  # see LATER_DECAY
N_FEATURES = len(COLUMNS)
RECENT_INTERVALS = 3  # the product's recent interval: mean of its last few
RECENT_ORDERS = 10  # training intervals: those that ended in each household's last few orders
# A training interval's weight halves with each order the household placed after it ended, and that count
# is a feature ("later_orders", 0 when serving: what is predicted ends at the next order). Histories drift:
# in the real samples order gaps lengthen toward a history's end, and the next purchase looks most like
# the intervals that ended last (real-4: MAE 24.8 days from the last 5 orders equally weighted, 22.7 so).
LATER_DECAY = 0.5


def poisson_gamma(prof: Profile, pos: np.ndarray, prior: np.ndarray, k: float) -> np.ndarray:
    n = prof.count[pos] - 1
    span = prof.last[pos] - prof.first[pos]
    return (k * prior + span) / (k + n)


def _pg(n_int: np.ndarray, span: np.ndarray, prior: np.ndarray, k: float) -> np.ndarray:
    return (k * prior + span) / (k + n_int)


def _window_median(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Median of ``values[lo[i]:hi[i]]`` for each i (nan for an empty window): the windows are laid out
    as rows of a NaN-padded matrix, a block of rows at a time so the matrix stays small."""
    out = np.full(lo.size, np.nan)
    width = hi - lo
    w = int(width.max()) if width.size else 0
    if w <= 0:
        return out
    step = np.arange(w)
    block = max(1, (1 << 20) // w)
    for b in range(0, lo.size, block):
        ln, wd = lo[b:b + block], width[b:b + block]
        inside = step < wd[:, None]
        window = np.where(inside, values[np.minimum(ln[:, None] + step, values.size - 1)], np.nan)
        has = wd > 0
        out[b:b + block][has] = np.nanmedian(window[has], axis=1)
    return out


def _cadence(order_days: np.ndarray, at: np.ndarray, first_day: np.ndarray, prev_day: np.ndarray
             ) -> tuple[np.ndarray, ...]:
    """The household's order rhythm as of each day ``at`` (an order day), from its orders up to it:
    (orders up to it, its last three order gaps, their mean, its median order gap, orders since the
    product's first purchase, orders since its previous purchase (nan without one))."""
    j = np.searchsorted(order_days, at, side="right") - 1  # the order each interval starts from
    gaps = np.diff(order_days)
    since_first = (j - np.searchsorted(order_days, first_day - 1e-6)).astype(float)
    if gaps.size == 0:
        nan = np.full(at.size, np.nan)
        return j + 1.0, nan, nan, nan, nan, nan, since_first, nan
    recent = [np.where(j >= i, gaps[np.maximum(j - i, 0)], np.nan) for i in (1, 2, 3)]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean3 = (order_days[j] - order_days[np.maximum(j - 3, 0)]) / np.minimum(j, 3)
    median = _window_median(gaps, np.zeros_like(j), j)
    since_prev = np.where(np.isnan(prev_day), np.nan,
                          j - np.searchsorted(order_days, np.nan_to_num(prev_day) - 1e-6))
    return j + 1.0, *recent, mean3, median, since_first, since_prev


def _matrix(n_int, span, sum_log, last_int, median_int, recent_int, order_days, first_day, at, rows, usage, k,
            later) -> np.ndarray:
    """The feature matrix from per-interval facts, all known at day ``at`` (the interval's start, an
    order day; ``order_days`` are the household's, later ones are not read), and ``later``: the
    household's orders after the interval's end (see LATER_DECAY)."""
    orders_upto, gap_1, gap_2, gap_3, recent_gap, median_gap, since_first, since_prev = _cadence(
        order_days, at, first_day, at - last_int)
    with np.errstate(invalid="ignore", divide="ignore"):
        has = n_int > 0
        geo = np.where(has, np.exp(sum_log / np.maximum(n_int, 1)), np.nan)
        mean = np.where(has, span / np.maximum(n_int, 1), np.nan)
        cadence = np.where(orders_upto > 1, (at - order_days[0]) / np.maximum(orders_upto - 1, 1), np.nan)
        share = (n_int + 1) / np.maximum(orders_upto, 1)
        orders_per_int = np.where(has, since_first / np.maximum(n_int, 1), np.nan)
    prior = usage.interval[rows]
    return np.column_stack([
        _pg(n_int, span, prior, k), geo, last_int, n_int, prior, cadence, share, usage.reorder[rows], mean,
        mean / cadence, median_int, at - order_days[0], orders_upto, np.log1p(usage.lines[rows]),
        np.log1p(usage.households[rows]),
        gap_1, gap_2, gap_3, recent_gap, median_gap, (n_int + 1) / (since_first + 1), orders_per_int,
        since_prev, orders_per_int * recent_gap, recent_int, last_int / mean, later,
    ]).astype(np.float64)


def features(prof: Profile, pos: np.ndarray, rows: np.ndarray, usage: Usage, k: float) -> np.ndarray:
    """Serving features for the products at ``pos`` of a profile, as of each one's last purchase."""
    if pos.size == 0:
        return np.zeros((0, N_FEATURES))
    last = prof.last[pos]
    n_int = prof.count[pos] - 1
    sum_log = np.where(n_int > 0, np.nan_to_num(prof.log_int[pos]) * n_int, 0.0)
    d = prof.line_days  # sorted by (product, day): each product's lines are one run
    starts = np.searchsorted(prof.line_rows, prof.rows)[pos]
    ends = starts + prof.count[pos].astype(np.int64)
    median = _window_median(np.diff(d), starts, ends - 1)
    recent = _recent_interval(d, ends - 1, n_int)
    return _matrix(n_int, last - prof.first[pos], sum_log, prof.last_int[pos], median, recent, prof.order_days,
                   prof.first[pos], last, rows, usage, k, np.zeros(pos.size))


def _recent_interval(d: np.ndarray, at: np.ndarray, n_int: np.ndarray) -> np.ndarray:
    """Mean of a product's last RECENT_INTERVALS intervals up to line ``at`` (lines sorted by product, day)."""
    back = np.minimum(n_int, RECENT_INTERVALS).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(back > 0, (d[at] - d[at - back]) / np.maximum(back, 1), np.nan)


def interval_examples(prof: Profile, usage: Usage, last_orders: int = RECENT_ORDERS
                      ) -> tuple[np.ndarray, np.ndarray]:
    """(features, days) for the repurchase intervals that ended in a household's last few orders.

    The features of the interval ending at a product's i-th purchase come from its first i-1
    purchases and the household's orders up to the (i-1)-th: what serving would have seen then.
    Recent intervals only: they are what "the next purchase" looks like from the end of a history
    (intervals from early in a history are cut short by where the history ends).
    """
    r, d = prof.line_rows, prof.line_days  # sorted by (product, day), one line per order
    if r.size < 2 or prof.order_days.size < 2:
        return np.zeros((0, N_FEATURES)), np.zeros(0)
    same = np.r_[False, r[1:] == r[:-1]]
    since = prof.order_days[max(prof.order_days.size - last_orders, 1)]
    ends = np.flatnonzero(same & (d >= since))  # line i closes the interval that started at line i - 1
    if ends.size == 0:
        return np.zeros((0, N_FEATURES)), np.zeros(0)
    group_start = np.flatnonzero(~same)
    start_of = group_start[np.searchsorted(group_start, np.arange(r.size), side="right") - 1]
    gap = np.where(same, np.diff(d, prepend=0.0), np.nan)
    cum_log = np.cumsum(np.where(same, np.log(np.maximum(gap, 0.5)), 0.0))
    at = ends - 1  # the purchase each interval starts from
    first = start_of[at]
    n_int = (at - first).astype(np.float64)
    sum_log = cum_log[at] - cum_log[first]
    last_int = np.where(n_int > 0, gap[at], np.nan)
    median = _window_median(gap, first + 1, at + 1)
    later = prof.order_days.size - np.searchsorted(prof.order_days, d[ends], side="right")
    X = _matrix(n_int, d[at] - d[first], sum_log, last_int, median, _recent_interval(d, at, n_int),
                prof.order_days, d[first], d[at], r[at], usage, 1.0, later.astype(np.float64))
    return X, d[ends] - d[at]


class TimingModel:
    def __init__(self, k: float = 2.0):
        self.k = k
        self.mid: FlatForest | None = None
        self.low: FlatForest | None = None
        self.high: FlatForest | None = None

    def predict(self, prof: Profile, pos: np.ndarray, rows: np.ndarray, usage: Usage
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        X = features(prof, pos, rows, usage, self.k)
        if self.mid is None or self.low is None or self.high is None:  # not fitted (``fit`` sets all three)
            mid = X[:, 0]
            return mid, mid * np.exp(-1.28 * SPREAD), mid * np.exp(1.28 * SPREAD)
        mid = np.maximum(self.mid.raw(X), 0.5)
        low = np.minimum(np.maximum(self.low.raw(X), 0.0), mid)
        high = np.maximum(self.high.raw(X), mid)
        return mid, low, high

    def fit(self, X_parts: list[np.ndarray], y: np.ndarray) -> TimingModel:
        """X_parts: feature rows from ``interval_examples`` (computed with k=1, column 0 recomputed per k)."""
        X = np.vstack(X_parts) if X_parts else np.zeros((0, N_FEATURES))
        if y.size < 50:
            return self
        w = LATER_DECAY ** X[:, COLUMNS.index("later_orders")]
        self.k = self._choose_k(X, y, w)
        X = X.copy()
        X[:, 0] = self._pg(X, self.k)
        X[:, np.isnan(X).all(axis=0)] = 0.0  # scikit-learn cannot bin an all-NaN column
        # The weights as a sample: each interval kept with probability its weight. Gradient boosting with
        # sample weights takes five to eight times as long (scikit-learn's fast path needs none).
        kept = np.random.default_rng(0).random(y.size) < w
        X, y = X[kept], y[kept]
        self.mid = FlatForest(_regressor("absolute_error").fit(X, y))
        self.low = FlatForest(_regressor("quantile", 0.1).fit(X, y))
        self.high = FlatForest(_regressor("quantile", 0.9).fit(X, y))
        return self

    @staticmethod
    def _pg(X: np.ndarray, k: float) -> np.ndarray:
        # Recover span from the k=1 estimate: pg1 = (prior + span) / (1 + n)
        n, prior = X[:, 3], X[:, 4]
        span = X[:, 0] * (1 + n) - prior
        return (k * prior + span) / (k + n)

    def _choose_k(self, X: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
        errors = [np.average(np.abs(self._pg(X, k) - y), weights=w) for k in K_GRID]
        return float(K_GRID[int(np.argmin(errors))])


def _regressor(loss: str, quantile: float | None = None) -> HistGradientBoostingRegressor:
    kw = {"quantile": quantile} if quantile is not None else {}
    return HistGradientBoostingRegressor(loss=loss, max_iter=120, max_depth=5, learning_rate=0.08,
                                         early_stopping=True, random_state=0, **kw)
