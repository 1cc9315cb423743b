"""Repurchase timing: days from a household's last purchase of a product to its next one.

Base estimate (Poisson-Gamma, as in Amazon's "Buy It Again"): purchases of a product by a household
arrive at an unknown rate with a Gamma prior centred on the product's pooled interval; after n
intervals spanning T days the posterior mean interval is (k * prior + T) / (k + n). Sparse
households lean on the prior, regular ones on themselves; k is chosen on held-back data.
A gradient-boosted model then corrects it using the household's order cadence and recent lag, with
quantile models for the low/high interval.
"""
from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

from replenish.recommend.forest import FlatForest
from replenish.recommend.profile import Profile
from replenish.recommend.stats import Usage

K_GRID = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
SPREAD = 0.55  # log-space spread of intervals around the estimate, used without a learned model


def poisson_gamma(prof: Profile, pos: np.ndarray, prior: np.ndarray, k: float) -> np.ndarray:
    n = prof.count[pos] - 1
    span = prof.last[pos] - prof.first[pos]
    return (k * prior + span) / (k + n)


def features(prof: Profile, pos: np.ndarray, rows: np.ndarray, usage: Usage, k: float) -> np.ndarray:
    prior = usage.interval[rows]
    last_order = prof.order_days[-1] if prof.order_days.size else np.nan
    return np.column_stack([
        poisson_gamma(prof, pos, prior, k),
        np.exp(prof.log_int[pos]),
        prof.last_int[pos],
        prof.count[pos] - 1,
        prior,
        np.full(pos.size, prof.order_gap),
        prof.count[pos] / max(prof.n_orders, 1),
        last_order - prof.last[pos],  # already this long without it: the next purchase comes later
        usage.reorder[rows],
    ])


class TimingModel:
    def __init__(self, k: float = 2.0):
        self.k = k
        self.mid: FlatForest | None = None
        self.low: FlatForest | None = None
        self.high: FlatForest | None = None

    def predict(self, prof: Profile, pos: np.ndarray, rows: np.ndarray, usage: Usage
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        X = features(prof, pos, rows, usage, self.k)
        if self.mid is None:
            mid = X[:, 0]
            return mid, mid * np.exp(-1.28 * SPREAD), mid * np.exp(1.28 * SPREAD)
        mid = np.maximum(self.mid.raw(X), 0.5)
        low = np.minimum(np.maximum(self.low.raw(X), 0.0), mid)
        high = np.maximum(self.high.raw(X), mid)
        return mid, low, high

    def fit(self, X_parts: list[np.ndarray], y: np.ndarray) -> "TimingModel":
        """X_parts: feature rows from ``features`` (computed with k=1, column 0 recomputed per k)."""
        X = np.vstack(X_parts) if X_parts else np.zeros((0, 9))
        if y.size < 50:
            return self
        self.k = self._choose_k(X, y)
        X = X.copy()
        X[:, 0] = self._pg(X, self.k)
        X[:, np.isnan(X).all(axis=0)] = 0.0  # scikit-learn cannot bin an all-NaN column
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

    def _choose_k(self, X: np.ndarray, y: np.ndarray) -> float:
        errors = [np.mean(np.abs(self._pg(X, k) - y)) for k in K_GRID]
        return float(K_GRID[int(np.argmin(errors))])


def _regressor(loss: str, quantile: float | None = None) -> HistGradientBoostingRegressor:
    kw = {"quantile": quantile} if quantile is not None else {}
    return HistGradientBoostingRegressor(loss=loss, max_iter=120, max_depth=5, learning_rate=0.08,
                                         early_stopping=True, random_state=0, **kw)
