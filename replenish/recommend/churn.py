"""Does the household still buy this? Churn and succession, as a probability per product.

A product is not "running low" when the household has stopped buying it: the child moved on from size-3
diapers to size 4, the household switched from Peet's to Starbucks, the infant formula ended. Two
pieces of evidence, combined as a likelihood ratio on the odds that the household still buys it:

- **silence against its own rhythm**: with repurchase intervals spread log-normally around the expected
  interval, the chance of having waited this long *if* it still buys it is the survival function at
  ``elapsed / expected``. A mixture of a tight and a wide spread keeps an irregular product alive for
  a while, but 14 months of silence on a weekly product is decisive;
- **succession**: orders since the product's last purchase that contained *another* product of the same
  category (another size of the line, another brand of the same thing). Each one beyond the first
  counts against the old product, more so the further it is past its rhythm (a household that keeps
  two variants in parallel buys the other one now and then, but not instead of an overdue one).

The prior odds grow with how often it was bought: bought once is an impulse as often as a habit.
Everything is vectorised over a profile's products; no per-product Python.
"""
from __future__ import annotations

import numpy as np
from scipy.special import erfc

from replenish.recommend.profile import Profile

TIGHT, WIDE, WIDE_SHARE = 0.45, 1.2, 0.2  # log-space spreads of the interval mixture
SUCCESSION = 0.8   # log-odds lost per successor order beyond the first, per rhythm overdue (capped at 3)
ACTIVE = 0.4       # below this a product is treated as no longer bought (running low, appliances)
PRIOR_CAP = 6.0    # prior odds stop growing after this many orders: a long habit can still end


def survival(ratio: np.ndarray) -> np.ndarray:
    """P(interval > ratio * expected) under the log-normal mixture."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.log(np.maximum(ratio, 1e-9))
    s = (1 - WIDE_SHARE) * 0.5 * erfc(z / (TIGHT * np.sqrt(2))) + WIDE_SHARE * 0.5 * erfc(z / (WIDE * np.sqrt(2)))
    return np.where(np.isnan(ratio), 1.0, s)


def probability(count: np.ndarray, elapsed: np.ndarray, expected: np.ndarray, newer: np.ndarray) -> np.ndarray:
    """P(still buys) from orders containing it, days since its last purchase, expected interval (days) and
    successor orders (see ``successor_orders``). NaN ``elapsed`` (never bought) gives NaN."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.maximum(elapsed, 0) / np.maximum(expected, 0.5)
        prior = np.log(np.clip(count, 1e-9, PRIOR_CAP) / 0.5)  # odds count : 0.5
        overdue = np.clip(ratio - 1.0, 0.0, 3.0)
        log_odds = prior + np.log(np.maximum(survival(ratio), 1e-300)) \
            - SUCCESSION * np.maximum(newer - 1.0, 0.0) * overdue
        p = 1.0 / (1.0 + np.exp(-np.clip(log_odds, -50, 50)))
    return np.where(np.isnan(elapsed) | (count <= 0), np.nan, p)


def runs_out_by(expected: float, days: float) -> float:
    """P(the interval, log-normal around ``expected`` days, is over within ``days``)."""
    if expected <= 0:
        return 1.0
    return float(1.0 - survival(np.array([max(days, 1e-9) / expected]))[0])


def successor_orders(prof: Profile, kind: np.ndarray) -> np.ndarray:
    """Per profile product: orders after its last purchase containing another product of its kind
    (``kind``: a category code per catalog row, 0 = unknown)."""
    if prof.rows.size == 0:
        return np.zeros(0)
    n = prof.order_days.size + 1
    line_kind = kind[prof.line_rows].astype(np.int64)
    order_no = np.searchsorted(prof.order_days, prof.line_days)
    keys = np.unique(line_kind * n + order_no)  # distinct (kind, order) pairs
    mine = kind[prof.rows].astype(np.int64)
    last_no = np.searchsorted(prof.order_days, prof.last)
    lo = np.searchsorted(keys, mine * n + last_no, side="right")
    hi = np.searchsorted(keys, mine * n + (n - 1), side="right")
    return np.where(mine > 0, hi - lo, 0).astype(np.float64)


def still_buying(prof: Profile, expected: np.ndarray, kind: np.ndarray, now: float) -> np.ndarray:
    """P(still buys) for every product of a profile at day ``now``."""
    newer = prof.memoized("successors", kind, lambda: successor_orders(prof, kind))
    return probability(prof.count, now - prof.last, expected, newer)
