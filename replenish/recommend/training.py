"""Fitting: learn from each household's most recent order what it bought next.

Every household's last order is the training target for the resolve and buy-again rankers; only
purchases *before* it feed its profile and the popularity/interval statistics used for its features,
mirroring how the model is served. The timing model learns from completed repurchase intervals with
features as of each interval's start (see ``timing``). The served statistics are then recomputed
from all purchases. ``progress(stage, fraction)`` hears about every stage.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

from catalog.synonyms import head_phrases, tokens
from replenish.domain.history import Purchase
from replenish.recommend import features as F
from replenish.recommend import neighbours as N
from replenish.recommend.forest import FlatForest
from replenish.recommend.profile import DAY, Profile
from replenish.recommend.recommender import Recommender
from replenish.recommend.stats import Usage
from replenish.recommend.timing import TimingModel, interval_examples

MAX_HOUSEHOLDS = 8000    # households sampled for training examples: enough signal, bounded fit time
MAX_PHRASES = 40000     # resolve requests made from the sampled households' next orders (small samples: all)
COLD_PER_HOUSEHOLD = 3   # "never bought a match" examples made per household by hiding its matches
BOUGHT = F.RESOLVE_COLUMNS.index("bought")
MAX_INTERVALS = 200_000  # timing examples (completed repurchase intervals), sampled beyond this
SEED = 0
Progress = Callable[[str, float], None] | None


Chunk = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # household, product row, day, quantity
CHUNK = 200_000  # Purchase objects converted to arrays at a time


@dataclass
class StoredHistory:
    """The purchase history as the database hands it over: ``chunks(skus)`` yields numpy batches of
    (household number, position of the SKU in ``skus``, day, quantity) (see
    ``replenish.adapters.purchase_arrays``); ``total`` lines, for the progress bar."""

    chunks: Callable[[Sequence[str]], Iterable[Chunk]]
    total: int = 0


class History:
    """All purchases as parallel arrays sorted by (household, day); households numbered 0.. in that order."""

    def __init__(self, hh: np.ndarray, rows: np.ndarray, days: np.ndarray, qty: np.ndarray):
        order = np.lexsort((days, hh))
        hh = hh[order]
        self.rows, self.days, self.qty = rows[order], days[order], qty[order]
        del order
        new = np.ones(hh.size, bool)
        np.not_equal(hh[1:], hh[:-1], out=new[1:])
        self.hh = (np.cumsum(new, dtype=np.int64) - 1).astype(np.int32) if hh.size else hh.astype(np.int32)
        self.n_households = int(self.hh[-1]) + 1 if hh.size else 0
        self.start = np.searchsorted(self.hh, np.arange(self.n_households + 1))

    @classmethod
    def collect(cls, purchases: Iterable[Purchase] | StoredHistory, row_of: dict[str, int],
                progress: Progress) -> History:
        """Reads the history in batches of arrays, so memory holds arrays (20 bytes a line), never a
        Python object per line: from the database's ``StoredHistory``, or from Purchase objects."""
        if isinstance(purchases, StoredHistory):
            skus = [""] * len(row_of)
            for sku, r in row_of.items():
                skus[r] = sku
            chunks, total = purchases.chunks(skus), purchases.total
        else:
            chunks = _purchase_chunks(purchases, row_of)
            total = len(purchases) if isinstance(purchases, Sized) else 0
        _report(progress, "reading purchase history", 0.0)
        parts: list[Chunk] = []
        read = 0
        for chunk in chunks:
            parts.append(chunk)
            read += chunk[0].size
            if progress is not None:
                # without a known total the stage names the lines read so far
                progress("reading purchase history", min(read / total, 1.0)) if total else \
                    progress(f"reading purchase history ({read:,} lines)", 0.0)
        _report(progress, "reading purchase history", 1.0)
        columns = [np.concatenate([p[i] for p in parts]) if parts else np.zeros(0, t)
                   for i, t in enumerate((np.int32, np.int32, np.float64, np.float32))]
        parts.clear()
        return cls(*columns)

    def split_last_order(self) -> np.ndarray:
        """Mask of lines in each household's last order, for households with at least two orders."""
        last = np.repeat(np.maximum.reduceat(self.days, self.start[:-1]) if self.days.size else [],
                         np.diff(self.start))
        first = np.repeat(np.minimum.reduceat(self.days, self.start[:-1]) if self.days.size else [],
                          np.diff(self.start))
        return (np.abs(self.days - last) < 1e-6) & (last > first)


def _purchase_chunks(purchases: Iterable[Purchase], row_of: dict[str, int]) -> Iterator[Chunk]:
    codes: dict[str, int] = {}
    it = iter(purchases)
    while block := list(islice(it, CHUNK)):
        lines = [(codes.setdefault(p.household_id, len(codes)), r, p.ordered_at.timestamp() / DAY, p.quantity)
                 for p in block if (r := row_of.get(p.sku)) is not None]
        if lines:
            hh, rows, days, qty = zip(*lines, strict=True)
            yield (np.array(hh, np.int32), np.array(rows, np.int32), np.array(days, np.float64),
                   np.array(qty, np.float32))


def _examples(rec: Recommender, hist: History, target: np.ndarray, progress: Progress):
    rng = np.random.default_rng(SEED)
    eligible = np.unique(hist.hh[target])
    chosen = rng.permutation(eligible)[:MAX_HOUSEHOLDS]
    per_hh = max(1, MAX_PHRASES // max(len(chosen), 1))
    R, y_r, G, y_g, T, y_t, C, y_c = [], [], [], [], [], [], [], []
    for n, h in enumerate(chosen):
        s, e = hist.start[h], hist.start[h + 1]
        pre, tgt = ~target[s:e], target[s:e]
        prof = Profile.build(hist.rows[s:e][pre], hist.days[s:e][pre], hist.qty[s:e][pre])
        now = float(hist.days[s:e][tgt][0])
        bought = np.unique(hist.rows[s:e][tgt])
        # buy-again: which of the household's products were in the next order (its own history is not its peer)
        G.append(F.buy_again_features(rec.usage, prof, rec.expected_intervals(prof), now, rec.attr.leaf,
                                      N.scores(rec.sim, prof), N.peer_scores(rec.peers, prof, exclude=int(h))))
        y_g.append(np.isin(prof.rows, bought))
        # timing: every completed interval, the target order's included, with causal features only
        full = Profile.build(hist.rows[s:e], hist.days[s:e], hist.qty[s:e])
        X_t, gaps = interval_examples(full, rec.usage)
        T.append(X_t)
        y_t.append(gaps)
        # resolve: phrases a shopper would say for the products they bought
        pre_rows, pre_days, pre_qty = hist.rows[s:e][pre], hist.days[s:e][pre], hist.qty[s:e][pre]
        cold_left = COLD_PER_HOUSEHOLD
        for phrase, ok in list(phrases_for(rec, bought).items())[:per_hh]:
            rows, X = rec.resolve_inputs(phrase, prof, now, exclude=int(h))
            label = np.isin(rows, ok)
            if label.any() and not label.all():
                R.append(X)
                y_r.append(label)
                if not X[:, BOUGHT].any():
                    C.append(X)
                    y_c.append(label)
                elif cold_left > 0:
                    # the same request as if the household had never bought a match: what would it
                    # pick the first time, given everything else it buys?
                    cold_left -= 1
                    keep = ~np.isin(pre_rows, rows)
                    if keep.any():
                        cold = Profile.build(pre_rows[keep], pre_days[keep], pre_qty[keep])
                        c_rows, c_X = rec.resolve_inputs(phrase, cold, now, exclude=int(h))
                        c_label = np.isin(c_rows, ok)
                        if c_label.any() and not c_label.all():
                            C.append(c_X)
                            y_c.append(c_label)
        if progress is not None and n % 200 == 0:
            progress("building training examples", n / len(chosen))
    return R, y_r, G, y_g, T, y_t, C, y_c


def phrases_for(rec: Recommender, rows: np.ndarray) -> dict[str, np.ndarray]:
    """One- and two-word phrases from product titles -> products among ``rows`` that fit each phrase."""
    out: dict[str, list[int]] = {}
    words = {int(r): set(tokens(rec.products[r].title)) for r in rows}
    for r in rows:
        for phrase in head_phrases(rec.products[r].title):
            if phrase and phrase not in out:
                need = set(phrase.split())
                out[phrase] = [q for q, w in words.items() if need <= w]
    return {p: np.array(v) for p, v in out.items()}


def fillable(X: np.ndarray) -> np.ndarray:
    # scikit-learn cannot bin an all-NaN column (e.g. prices in Instacart); the trees ignore it anyway
    X[:, np.isnan(X).all(axis=0)] = 0.0
    return X


MIN_EXAMPLES = 3000  # fewer rows than this and a learned ranker does worse than the heuristics (a 58-household
                     # real sample: 412 rows, top-1 0.09 against 0.66 for "most recent"): keep the heuristics


def _classifier(X: list[np.ndarray], y: list[np.ndarray]) -> FlatForest | None:
    if not X:
        return None
    Xa, ya = fillable(np.vstack(X)), np.concatenate(y)
    if ya.min() == ya.max() or ya.size < MIN_EXAMPLES or min(ya.sum(), (~ya.astype(bool)).sum()) < 50:
        return None
    model = HistGradientBoostingClassifier(max_iter=150, max_depth=6, learning_rate=0.1,
                                           early_stopping=True, random_state=SEED)
    return FlatForest(model.fit(Xa, ya))


def _report(progress: Progress, stage: str, fraction: float) -> None:
    if progress is not None:
        progress(stage, fraction)


def _subsample(X: list[np.ndarray], y: list[np.ndarray], limit: int) -> tuple[np.ndarray, np.ndarray]:
    Xa = np.vstack(X) if X else np.zeros((0, 0))
    ya = np.concatenate(y) if y else np.zeros(0)
    if ya.size > limit:
        keep = np.sort(np.random.default_rng(SEED).choice(ya.size, limit, replace=False))
        Xa, ya = Xa[keep], ya[keep]
    return Xa, ya


def fit(rec: Recommender, purchases: Iterable[Purchase] | StoredHistory, now: datetime | None,
        progress: Progress) -> Recommender:
    hist = History.collect(purchases, rec.index.row_of, progress)
    _report(progress, "household profiles and product statistics", 0.0)
    target = hist.split_last_order()
    n = len(rec.products)
    pre = ~target
    rec.usage = Usage.of(n, rec.attr.leaf, hist.hh[pre], hist.rows[pre], hist.days[pre])
    _report(progress, "household profiles and product statistics", 1.0)
    _report(progress, "co-purchase neighbours", 0.0)
    rec.sim = N.build(hist.hh[pre], hist.rows[pre], n)
    rec.peers = N.Peers.build(hist.hh[pre], hist.rows[pre], hist.days[pre], n)
    _report(progress, "co-purchase neighbours", 1.0)
    R, y_r, G, y_g, T, y_t, C, y_c = _examples(rec, hist, target, progress)
    _report(progress, "building training examples", 1.0)
    _report(progress, "fitting resolve ranker", 0.0)
    ranker = _classifier(R, y_r)
    cold = _classifier(C, y_c)
    _report(progress, "fitting resolve ranker", 1.0)
    _report(progress, "fitting buy-again model", 0.0)
    again = _classifier(G, y_g)
    _report(progress, "fitting buy-again model", 1.0)
    _report(progress, "fitting timing model", 0.0)
    X_t, y_t = _subsample(T, y_t, MAX_INTERVALS)
    timing = TimingModel(2.0).fit([X_t] if y_t.size else [], y_t)
    _report(progress, "fitting timing model", 1.0)
    _report(progress, "packing the model", 0.0)
    usage = Usage.of(n, rec.attr.leaf, hist.hh, hist.rows, hist.days)
    sim = N.build(hist.hh, hist.rows, n)
    meta = {
        "kind": "learned",
        "n_purchases": int(hist.rows.size), "n_households": hist.n_households, "n_products": n,
        "trained_until": (now or (datetime.fromtimestamp(hist.days.max() * DAY, tz=UTC)
                                  if hist.days.size else datetime.now(UTC))).isoformat(),
        "n_resolve_examples": int(sum(len(x) for x in R)), "n_cold_examples": int(sum(len(x) for x in C)),
            "n_timing_examples": int(y_t.size),
        "timing_k": timing.k,
    }
    packed = Recommender(rec.products, rec.index, rec.attr, usage, timing, ranker, again, meta)
    packed.sim = sim
    packed.peers = N.Peers.build(hist.hh, hist.rows, hist.days, n)
    packed.cold = cold
    _report(progress, "packing the model", 1.0)
    return packed
