"""The Recommender: resolve phrases to products, buy-again, repurchase timing and quantities.

One object holds the catalog index, per-product statistics and (optionally) learned models; without
learned models every method falls back to transparent heuristics (``Recommender.baseline``).
"""
from __future__ import annotations

import copy
import dataclasses
import math
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

from catalog.model import Product
from catalog.search import CatalogIndex
from replenish.domain.history import Purchase
from replenish.recommend import churn
from replenish.recommend import features as F
from replenish.recommend import neighbours as N
from replenish.recommend.forest import FlatForest
from replenish.recommend.profile import Profile, encode, from_day, to_day
from replenish.recommend.stats import Attributes, Usage
from replenish.recommend.timing import TimingModel, poisson_gamma

if TYPE_CHECKING:
    from replenish.recommend.training import StoredHistory

FEATURE_K = 2.0       # Poisson-Gamma strength for the "due" features (fixed so train == serve)
PROFILE_CACHE = 1024  # the same household asks again within seconds ("order milk", "yes")
SEARCH_CACHE = 256    # phrases repeat a lot ("milk"); a cached phrase skips ~1 ms of text scoring


@dataclass(frozen=True)
class Candidate:
    sku: str
    score: float
    reason: str
    product: Product


@dataclass(frozen=True)
class Timing:
    sku: str
    days_after_last: float
    low: float
    high: float
    last_purchased_at: datetime
    expected_at: datetime
    title: str = ""
    still_buying: float = 1.0  # probability the household still buys it (see churn)


def packs_for_slot(pack_size: float, remaining: float, target: float) -> int:
    """Whole packs needed to bring a slot from ``remaining`` up to ``target`` (same unit as pack_size)."""
    if remaining >= target:
        return 0
    if pack_size <= 0:
        return 1
    return max(1, math.ceil((target - remaining) / pack_size - 1e-9))


def _spoken_date(day: float, reader: tuple | None = None) -> str:
    """``August 14`` on the reader's calendar (``reader`` is (time zone, now), set on the household's profile
    by the service; UTC without it), with the year once it is more than six months from now."""
    d = from_day(day)
    if reader is not None:
        zone, now = reader
        d = d.astimezone(zone)
        if now is not None and abs((now - d).days) > 183:
            return f"{d:%B} {d.day}, {d.year}"
    return f"{d:%B} {d.day}"


class Recommender:
    # Parts added after models were first stored: a model saved before one of them reads None here.
    peers: N.Peers | None = None
    cold: FlatForest | None = None

    def __init__(self, products: list[Product], index: CatalogIndex, attr: Attributes, usage: Usage,
                 timing: TimingModel, ranker: FlatForest | None = None, again: FlatForest | None = None,
                 meta: dict | None = None):
        self.products, self.index, self.attr, self.usage = products, index, attr, usage
        self.timing, self.ranker, self.again = timing, ranker, again
        self.meta = meta or {}
        self.popular_lines = float(np.percentile(usage.lines, 90)) if usage.lines.size else 0.0
        self.known = np.ones(len(products), bool)  # in the catalog being served (see restrict_to)
        # product x product co-purchase neighbours (see neighbours), learned models only
        self.sim: sparse.csr_matrix | None = None
        # households that shop alike (see neighbours.Peers), learned models only
        self.peers: N.Peers | None = None
        # ranker for requests where the household never bought a match (cold start)
        self.cold: FlatForest | None = None
        self._profiles: OrderedDict[tuple, Profile] = OrderedDict()
        self._cache: OrderedDict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = OrderedDict()

    # -- construction and persistence ---------------------------------------------------------
    @classmethod
    def baseline(cls, products: Iterable[Product]) -> Recommender:
        products = list(products)
        return cls(products, CatalogIndex.build(products), Attributes.of(products),
                   Usage.empty(len(products)), TimingModel(FEATURE_K), meta={"kind": "baseline"})

    @classmethod
    def fit(cls, products: Iterable[Product], purchases: Iterable[Purchase] | StoredHistory,
            now: datetime | None = None,
            progress: Callable[[str, float], None] | None = None) -> Recommender:
        from replenish.recommend.training import fit
        return fit(cls.baseline(products), purchases, now, progress)

    def save(self, model_dir) -> str:
        from replenish.recommend.store import save
        return save(self, model_dir)

    @classmethod
    def load_latest(cls, model_dir) -> Recommender | None:
        from replenish.recommend.store import load_latest
        return load_latest(model_dir)

    def restrict_to(self, catalog: dict[str, bool]) -> Recommender:
        """A copy that answers only with SKUs of ``catalog`` (sku -> available now): a model trained on
        an older catalog never names a product that is gone, nor offers one that is out of stock now."""
        known = np.fromiter((p.sku in catalog for p in self.products), bool, len(self.products))
        available = np.fromiter((bool(catalog.get(p.sku, False)) for p in self.products), bool, len(self.products))
        clone = copy.copy(self)
        clone.attr = dataclasses.replace(self.attr, available=available)
        clone.known = known
        clone._profiles, clone._cache = OrderedDict(), OrderedDict()
        return clone

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_cache"], state["_profiles"] = OrderedDict(), OrderedDict()
        return state

    # -- lookups ------------------------------------------------------------------------------
    def product(self, sku: str) -> Product | None:
        row = self.index.row_of.get(sku)
        return None if row is None else self.products[row]

    def profile(self, history: Sequence[Purchase]) -> Profile:
        if not history:
            return Profile.empty_profile()
        # cheap fingerprint: a changed history changes its length or its first/last lines
        a, b = history[0], history[-1]
        key = (a.household_id, len(history), a.ordered_at, a.sku, b.ordered_at, b.sku, b.quantity)
        prof = self._profiles.get(key)
        if prof is None:
            rows, days, qty = encode(history, self.index.row_of)
            prof = Profile.build(rows, days, qty) if rows.size else Profile.empty_profile()
            self._profiles[key] = prof
            if len(self._profiles) > PROFILE_CACHE:
                self._profiles.popitem(last=False)
        return prof

    def search(self, phrase: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(text score of every product, top rows, top scores) for a phrase, cached."""
        key = phrase.strip().lower()
        hit = self._cache.get(key)
        if hit is None:
            dense = self.index.score_all(key)
            hit = (dense, *self.index.top(dense, F.SEARCH_DEPTH, self.usage.lines))  # ties: popular first
            self._cache[key] = hit
            if len(self._cache) > SEARCH_CACHE:
                self._cache.popitem(last=False)
        return hit

    def expected_intervals(self, prof: Profile) -> np.ndarray:
        return prof.memoized("expected", self.usage, lambda: poisson_gamma(
            prof, np.arange(prof.rows.size), self.usage.interval[prof.rows], FEATURE_K))

    def _households(self, profs: list[Profile]) -> F.Households:
        if len(profs) == 1:  # a lone household's stack is reused by its next request
            prof = profs[0]
            return prof.memoized("households", self, lambda: F.Households(
                self.attr, profs, [self.expected_intervals(prof)]))
        return F.Households(self.attr, profs, [self.expected_intervals(p) for p in profs])

    # -- resolve ------------------------------------------------------------------------------
    def resolve_inputs(self, phrase: str, prof: Profile, now: float, exclude: int = -1
                       ) -> tuple[np.ndarray, np.ndarray]:
        """(candidate rows, feature matrix) for a phrase and a household profile; ``exclude``: the
        household's number in the training history (training: never its own peer)."""
        rows, X, _ = self.resolve_inputs_many([(phrase, prof, now)], exclude)
        return rows[0], X

    def resolve_inputs_many(self, items: Sequence[tuple[str, Profile, float]], exclude: int = -1
                            ) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
        """Candidate rows per (phrase, profile, day) item, their stacked features, and each item's
        first feature row. One pass of array operations serves every item (see ``batch``)."""
        slot: dict[int, int] = {}
        profs: list[Profile] = []
        req_hh, rows_l, text_l, nb_l, pe_l = [], [], [], [], []
        peers = self.peers
        for phrase, prof, _ in items:
            u = slot.get(id(prof))
            if u is None:
                u = slot[id(prof)] = len(profs)
                profs.append(prof)
            req_hh.append(u)
            rows, text = F.candidates(prof, *self.search(phrase), self.usage.lines)
            rows_l.append(rows)
            text_l.append(text)
            nb = N.scores(self.sim, prof)
            nb_l.append(nb[rows] if nb is not None else np.full(rows.size, np.nan))
            pe = N.peer_scores(peers, prof, exclude)
            pe_l.append(pe[rows] if pe is not None else np.full(rows.size, np.nan))
        X = F.resolve_features_many(self.attr, self.usage, self._households(profs), np.array(req_hh, np.int64),
                                    rows_l, text_l, [it[0] for it in items],
                                    np.array([it[2] for it in items], np.float64), nb_l, pe_l)
        starts = np.zeros(len(rows_l), np.int64)
        np.cumsum([r.size for r in rows_l[:-1]], out=starts[1:])
        return rows_l, X, starts

    def resolve_scores(self, prof: Profile, X: np.ndarray) -> np.ndarray:
        return self._scores(X, np.full(X.shape[0], prof.empty), np.zeros(1, np.int64))

    def _scores(self, X: np.ndarray, no_history: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """Ranking score per feature row; ``no_history`` marks rows of households with no purchases;
        ``starts``: each request's first row (a request with no match bought goes to the cold ranker)."""
        c = {name: X[:, i] for i, name in enumerate(F.RESOLVE_COLUMNS)}
        cold_rows = np.zeros(X.shape[0], bool)
        cold = self.cold
        if cold is not None and X.shape[0]:
            nonempty = np.flatnonzero(np.diff(np.r_[starts, X.shape[0]]) > 0)
            first = starts[nonempty]
            any_bought = np.zeros(starts.size, bool)
            any_bought[nonempty] = np.maximum.reduceat(c["bought"], first) > 0
            cold_rows = ~np.repeat(any_bought, np.diff(np.r_[starts, X.shape[0]])) & ~no_history
        # no history: good matches people buy, in the category the phrase names
        out = 0.55 * c["text_rel"] + 0.3 * c["pop_rel"] + 0.15 * c["leaf_named"]
        known = ~no_history & ~cold_rows
        if cold is not None and cold_rows.any():
            out[cold_rows] = cold.proba(X[cold_rows])
        if known.any():
            if self.ranker is not None:
                out[known] = self.ranker.proba(X[known])
            else:
                # a product the household moved on from counts for little; a phrase that names a
                # category ("detergent") means that category before others that contain the word
                active = np.nan_to_num(c["still_buying"], nan=0.0)
                out[known] = (0.25 * c["text_rel"] + 0.45 * c["match_share"] * c["text_rel"] * (0.4 + 0.6 * active)
                              + 0.15 * c["leaf_named"] + 0.07 * c["most_recent"] * active
                              + 0.1 * c["pop_rel"])[known]
        return out

    def resolve(self, phrase: str, history: Sequence[Purchase], k: int = 3, now: datetime | None = None,
                available_only: bool = True) -> list[Candidate]:
        return self.resolve_many([(phrase, self.profile(history), k)], now, available_only)[0]

    def resolve_many(self, requests: Sequence[tuple[str, Profile, int]], now: datetime | None = None,
                     available_only: bool = True) -> list[list[Candidate]]:
        """``resolve`` for many (phrase, profile, k) requests at once, answers in request order."""
        if not requests:
            return []
        now_day = to_day(now or datetime.now(UTC))
        rows_l, X, starts = self.resolve_inputs_many([(ph, prof, now_day) for ph, prof, _ in requests])
        empty = np.repeat([prof.empty for _, prof, _ in requests], [r.size for r in rows_l])
        scores = self._scores(X, empty, starts)
        brand_share = X[:, F.RESOLVE_COLUMNS.index("brand_share")]
        out = []
        for (phrase, prof, k), rows, s in zip(requests, rows_l, starts, strict=False):
            sc, bs = scores[s:s + rows.size], brand_share[s:s + rows.size]
            if available_only:
                ok = self.attr.available[rows]
                rows, sc, bs = rows[ok], sc[ok], bs[ok]
            order = np.argsort(-sc, kind="stable")[:k]
            out.append([self._candidate(int(rows[i]), float(sc[i]), prof, phrase, float(bs[i])) for i in order])
        return out

    def _candidate(self, row: int, score: float, prof: Profile, phrase: str | None,
                   brand_share: float | None = None) -> Candidate:
        p = self.products[row]
        return Candidate(p.sku, round(min(max(score, 0.0), 1.0), 4),
                         self._reason(row, prof, phrase, brand_share), p)

    def _reason(self, row: int, prof: Profile, phrase: str | None, brand_share: float | None = None) -> str:
        i = int(np.searchsorted(prof.rows, row))
        if i < prof.rows.size and prof.rows[i] == row:
            n, last = int(prof.count[i]), _spoken_date(float(prof.last[i]), prof.memo.get("reader"))
            return f"you've bought this {n} times, most recently on {last}" if n > 1 else f"you bought this on {last}"
        p = self.products[row]
        if p.brand:
            if brand_share is None:
                brand_share = F.shares(self.attr.brand[[row]], self.attr.brand[prof.line_rows])[0]
            if brand_share > 0.05:
                return f"you often buy {p.brand}"
        if self.usage.lines[row] > 0 and self.usage.lines[row] >= self.popular_lines:
            return f"a popular choice for {phrase}" if phrase else "a popular choice"
        return f"the best match for {phrase}" if phrase else "suggested for you"

    # -- buy-again and timing -----------------------------------------------------------------
    def buy_again_scores(self, prof: Profile, now: float) -> np.ndarray:
        X = F.buy_again_features(self.usage, prof, self.expected_intervals(prof), now, self.attr.leaf,
                                 N.scores(self.sim, prof), N.peer_scores(self.peers, prof))
        if self.again is not None:
            return self.again.proba(X)
        cols = {name: X[:, i] for i, name in enumerate(F.BUY_AGAIN_COLUMNS)}
        # heuristic: how habitual, gently boosted when it is due, for as long as it is still bought
        due = np.clip(np.nan_to_num(cols["due_ratio"], nan=0.0), 0, 2)
        return cols["order_share"] * (0.7 + 0.3 * (1.0 - np.abs(1.0 - due))) * cols["still_buying"]

    def buy_again(self, history: Sequence[Purchase], k: int = 10, now: datetime | None = None) -> list[Candidate]:
        prof = self.profile(history)
        if prof.empty:
            avail = np.flatnonzero(self.attr.available & self.known)
            top = avail[np.argsort(-self.usage.lines[avail], kind="stable")[:k]]
            scale = max(float(self.usage.lines.max()), 1.0)
            return [self._candidate(int(r), float(self.usage.lines[r] / scale), prof, None) for r in top]
        scores = self.buy_again_scores(prof, to_day(now or datetime.now(UTC)))
        scores = np.where(self.attr.available[prof.rows], scores, -1.0)
        # ties (a tree model gives equal scores to alike products): more often, then more recently bought first
        order = np.lexsort((-prof.last, -prof.count, -np.round(scores, 4)))[:k]
        return [self._candidate(int(prof.rows[i]), float(scores[i]), prof, None) for i in order if scores[i] >= 0]

    def still_buying(self, prof: Profile, now: float) -> np.ndarray:
        """P(the household still buys it) per profile product at day ``now`` (see ``churn``)."""
        return churn.still_buying(prof, self.expected_intervals(prof), self.attr.leaf, now)

    def _timings(self, prof: Profile, pos: np.ndarray, active: np.ndarray | None = None) -> list[Timing]:
        rows = prof.rows[pos]
        mid, low, high = self.timing.predict(prof, pos, rows, self.usage)
        out = []
        for i, r in enumerate(rows):
            last = from_day(float(prof.last[pos[i]]))
            p = self.products[r]
            out.append(Timing(p.sku, round(float(mid[i]), 1), round(float(low[i]), 1),
                              round(float(high[i]), 1), last, last + timedelta(days=float(mid[i])), p.title,
                              1.0 if active is None else round(float(active[i]), 3)))
        return out

    def next_purchase(self, history: Sequence[Purchase], sku: str, now: datetime | None = None) -> Timing | None:
        row = self.index.row_of.get(sku)
        prof = self.profile(history)
        if row is None or prof.empty or not self.known[row]:
            return None
        pos, bought = prof.lookup(np.array([row]))
        if not bought[0]:
            return None
        active = self.still_buying(prof, to_day(now or datetime.now(UTC)))[pos]
        return self._timings(prof, pos, active)[0]

    def running_low(self, history: Sequence[Purchase], now: datetime | None = None, horizon_days: float = 7,
                    k: int = 10) -> list[Timing]:
        """Products the household still buys that run out within ``horizon_days``, soonest first.

        Consumables only (bought in two orders or more); a product the household has stopped buying or
        moved on from (``still_buying`` below ``churn.ACTIVE``) is not running low, however overdue."""
        now = now or datetime.now(UTC)
        prof = self.profile(history)
        if prof.empty:
            return []
        active = self.still_buying(prof, to_day(now))
        regular = np.flatnonzero((prof.count >= 2) & self.known[prof.rows] & (active >= churn.ACTIVE))
        timings = self._timings(prof, regular, active[regular])
        until = now + timedelta(days=horizon_days)
        soon = [t for t in timings if t.expected_at <= until]
        # most needed first: still bought, and likely to run out within the horizon (a product far past
        # its expected date but probably dropped goes after this week's milk)
        need = {t.sku: t.still_buying * churn.runs_out_by(t.days_after_last, (until - t.last_purchased_at)
                                                          .total_seconds() / 86400) for t in soon}
        return sorted(soon, key=lambda t: (-round(need[t.sku], 2), t.expected_at))[:k]

    def forecast(self, history: Sequence[Purchase], now: datetime | None = None, k: int = 12) -> list[Timing]:
        """Every consumable the household still buys, soonest expected run-out first (the dashboard's chart):
        what it stopped buying or moved on from is left out, however overdue it looks."""
        now = now or datetime.now(UTC)
        prof = self.profile(history)
        if prof.empty:
            return []
        active = self.still_buying(prof, to_day(now))
        regular = np.flatnonzero((prof.count >= 2) & self.known[prof.rows] & (active >= churn.ACTIVE))
        return sorted(self._timings(prof, regular, active[regular]), key=lambda t: t.expected_at)[:k]

    def quantity(self, history: Sequence[Purchase], sku: str) -> int:
        """Usual packs per order for this product, else for its aisle, else 1."""
        row = self.index.row_of.get(sku)
        same = [p.quantity for p in history if p.sku == sku]
        if not same and row is not None:
            leaf = self.attr.leaf[row]
            same = [p.quantity for p in history
                    if (r := self.index.row_of.get(p.sku)) is not None and self.attr.leaf[r] == leaf]
        return max(1, int(round(float(np.median(same))))) if same else 1
