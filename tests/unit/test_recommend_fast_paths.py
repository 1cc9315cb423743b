"""The fast paths of a household's first request agree with the straightforward computations they
replace: profile building, per-household tables, catalog selection, long-postings scoring and the
flattened forest. Exact equality throughout: a fast path must not move a single score."""
from __future__ import annotations

import pickle
import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy import sparse
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

import catalog.search as search_module
from catalog.model import Product
from catalog.search import MIN_SCORE, CatalogIndex
from replenish.domain.history import Purchase
from replenish.recommend import features as F
from replenish.recommend.forest import FlatForest
from replenish.recommend.profile import DAY, Profile, encode
from replenish.recommend.stats import Attributes
from tests.unit.recommend_models import synth_model

NOW = datetime(2024, 6, 1, tzinfo=UTC)


# -- profile ----------------------------------------------------------------------------------
def reference_build(rows, days, qty):
    """Profile.build as first written: one lexsort, per-line masks, np.unique for the order days."""
    order = np.lexsort((days, rows))
    r, d, q = rows[order], days[order], qty[order]
    keep = np.r_[True, (r[1:] != r[:-1]) | (d[1:] != d[:-1])]
    r, d, q = r[keep], d[keep], q[keep]
    same = np.r_[False, r[1:] == r[:-1]]
    start = np.flatnonzero(~same)
    count = np.diff(np.r_[start, r.size])
    end = start + count - 1
    gap = np.where(same, np.diff(d, prepend=0.0), np.nan)
    log_gap = np.where(same, np.log(np.maximum(gap, 0.5)), 0.0)
    n_int = count - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        log_int = np.where(n_int > 0, np.add.reduceat(log_gap, start) / np.maximum(n_int, 1), np.nan)
    return Profile(r[start], count.astype(np.float64), d[start], d[end], log_int, gap[end],
                   np.add.reduceat(q, start) / count, np.unique(d), r, d)


def assert_same_profile(a: Profile, b: Profile) -> None:
    for name in ("rows", "count", "first", "last", "log_int", "last_int", "qty", "order_days",
                 "line_rows", "line_days"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and np.array_equal(x, y, equal_nan=True), name
        assert y.flags.c_contiguous, name


def history(rng: random.Random, n_orders: int = 60, hh: str = "h") -> list[Purchase]:
    """Orders of several lines, some products twice in one order with other quantities."""
    out, ago = [], 0.0
    for o in range(n_orders):
        ago += rng.choice([0.5, 3, 7, 7, 10]) + rng.random()
        at = NOW - timedelta(days=ago)
        skus = [str(rng.randrange(40)) for _ in range(rng.randrange(1, 9))]
        out += [Purchase(hh, s, at, rng.randrange(1, 4), f"{hh}-{o}") for s in skus]
    return out


@pytest.mark.parametrize("arrangement", ["newest first", "oldest first", "shuffled"])
def test_profile_fast_build_equals_reference(arrangement):
    rng = random.Random(7)
    row_of = {str(i): i * 3 for i in range(35)}  # skus 35..39 are not in the catalog
    for _ in range(20):
        h = history(rng)
        if arrangement == "oldest first":
            h.reverse()
        elif arrangement == "shuffled":
            rng.shuffle(h)
        rows, days, qty = encode(h, row_of)
        expect = [(row_of[p.sku], p.ordered_at.timestamp() / DAY, float(p.quantity)) for p in h if p.sku in row_of]
        assert rows.tolist() == [e[0] for e in expect]
        assert days.tolist() == [e[1] for e in expect]
        assert qty.tolist() == [e[2] for e in expect]
        assert_same_profile(reference_build(rows, days, qty), Profile.build(rows, days, qty))
        big_rows = (rows + 2**30).astype(np.int32)  # row x day numbers overflow int32: must not wrap
        assert_same_profile(reference_build(big_rows, days, qty), Profile.build(big_rows, days, qty))


def test_encode_edge_cases():
    assert all(a.size == 0 for a in encode([], {"a": 0}))
    one = [Purchase("h", "a", NOW, 2)]
    rows, days, qty = encode(one, {"a": 5})
    assert rows.tolist() == [5] and days.tolist() == [NOW.timestamp() / DAY] and qty.tolist() == [2.0]
    # one-line orders out of time order take the table-of-times branch
    spread = [Purchase("h", "a", NOW - timedelta(days=d), 1) for d in (5, 1, 9, 3, 7, 2)]
    assert encode(spread, {"a": 0})[1].tolist() == [p.ordered_at.timestamp() / DAY for p in spread]
    assert_same_profile(reference_build(*encode(one, {"a": 5})), Profile.build(*encode(one, {"a": 5})))


# -- per-household tables ------------------------------------------------------------------------
def test_tables_from_product_counts_equal_line_by_line_sums():
    rng = np.random.default_rng(3)
    n = 300
    attr = Attributes(brand=rng.integers(0, 40, n), leaf=rng.integers(0, 12, n), dept=rng.integers(0, 4, n),
                      size=rng.integers(0, 30, n), head=np.zeros(n, np.int64), head_words={"": 0},
                      price=rng.integers(0, 3000, n).astype(np.float64) * (rng.random(n) > 0.2),
                      available=np.ones(n, bool))
    for _ in range(10):
        rows = rng.integers(0, n, 800)
        prof = Profile.build(rows, np.sort(rng.integers(19000, 19500, 800)).astype(np.float64))
        t = F.Tables(attr, prof)
        lines = prof.line_rows
        for kind in F.Tables.KINDS:
            keys = getattr(attr, kind)[lines]
            counts = np.bincount(keys)
            counts[0] = 0
            expect = np.flatnonzero(counts)
            assert np.array_equal(t.shares[kind][0], expect)
            assert np.array_equal(t.shares[kind][1], counts[expect] / lines.size)
        paid = attr.price[lines]
        leaf = attr.leaf[lines][paid > 0]
        total, cnt = np.bincount(leaf, weights=paid[paid > 0]), np.bincount(leaf)
        keys = np.flatnonzero(cnt)
        assert np.array_equal(t.price[0], keys) and np.array_equal(t.price[1], total[keys] / cnt[keys])


# -- catalog selection and scoring ---------------------------------------------------------------
def test_top_is_the_stable_full_sort_above_min_score():
    rng = np.random.default_rng(1)
    for _ in range(200):
        n = int(rng.integers(1, 400))
        # few distinct values: many ties, including at the cut
        scores = rng.choice(np.array([0, 0, 0.01, 0.05, 0.2, 0.3, 0.3, 0.7, 1.2], np.float32), n)
        k = int(rng.integers(1, 40))
        ref = np.argsort(-scores, kind="stable")[:k]
        ref = ref[scores[ref] > MIN_SCORE]
        rows, got = CatalogIndex.top(scores, k)
        assert rows.tolist() == ref.tolist()
        assert np.array_equal(got, np.minimum(scores[ref], 1.0)) and got.dtype == np.float32
    assert CatalogIndex.top(np.zeros(0, np.float32), 5)[0].size == 0


def test_top_breaks_ties_by_preference_then_row():
    rng = np.random.default_rng(6)
    for _ in range(200):
        n = int(rng.integers(1, 300))
        scores = rng.choice(np.array([0, 0.01, 0.2, 0.3, 0.3, 0.7], np.float32), n)
        prefer = rng.integers(0, 4, n).astype(np.float64)
        k = int(rng.integers(1, 30))
        ref = sorted(range(n), key=lambda r: (-scores[r], -prefer[r], r))[:k]
        ref = [r for r in ref if scores[r] > MIN_SCORE]
        assert CatalogIndex.top(scores, k, prefer)[0].tolist() == ref


def test_long_postings_equal_scipy_product(monkeypatch):
    rng = np.random.default_rng(2)
    m = sparse.random(300, 5000, density=0.05, format="csr", dtype=np.float32, random_state=4)
    for _ in range(20):
        terms = np.unique(rng.integers(0, 300, int(rng.integers(1, 30))))
        w = rng.random(terms.size).astype(np.float32)
        expect = m[terms].T @ w
        got = CatalogIndex._long_postings(m, terms, w)
        assert got.dtype == expect.dtype and np.array_equal(got, expect)
    monkeypatch.setattr(search_module, "_csc_matvec", None)
    assert np.array_equal(CatalogIndex._long_postings(m, terms, w), expect)


def test_long_postings_scores_do_not_depend_on_the_kernel(monkeypatch):
    products = [Product(str(i), f"{b} {v} milk", b, "dairy/milk") for i, (b, v) in
                enumerate((b, v) for b in ("Silk", "Horizon", "Oatly", "Brand7") for v in ("whole", "almond", "oat"))]
    index = CatalogIndex.build(products)
    phrases = ["milk", "almond milk", "oat mlk", "silk", "xqzv"]
    monkeypatch.setattr(search_module, "SCIPY_POSTINGS", 0)  # every query takes the long path
    fast = [index.score_all(p) for p in phrases]
    assert fast[0].max() > 0.2 and not fast[-1].any()
    monkeypatch.setattr(search_module, "_csc_matvec", None)
    assert all(np.array_equal(a, index.score_all(p)) for a, p in zip(fast, phrases, strict=False))


# -- forest ---------------------------------------------------------------------------------------
def walk(forest: FlatForest, X: np.ndarray) -> np.ndarray:
    """One row and one tree at a time, node by node, as the arrays describe them."""
    out = np.zeros(X.shape[0])
    for i, x in enumerate(X):
        leaves = []
        for root in forest.roots:
            node = root
            while not forest.leaf[node]:
                v = x[forest.feature[node]]
                left = forest.missing_left[node] if np.isnan(v) else v <= forest.threshold[node]
                node = forest.left[node] if left else forest.right[node]
            leaves.append(node)
        out[i] = forest.value[leaves].sum() + forest.base  # summed as raw() sums them
    return out


@pytest.mark.parametrize("depth", [1, 3, None])
def test_flat_forest_equals_a_node_by_node_walk(depth):
    rng = np.random.default_rng(5)
    X = rng.random((2000, 5))
    X[rng.random(X.shape) < 0.15] = np.nan
    y = np.nan_to_num(X[:, 0]) + np.nan_to_num(X[:, 1]) * 2 > 1
    model = HistGradientBoostingClassifier(max_iter=25, max_depth=depth, random_state=0).fit(X, y)
    forest = FlatForest(model)
    sample = np.vstack([X[:300], np.full((1, 5), np.nan)])
    np.testing.assert_array_equal(forest.raw(sample), walk(forest, sample))
    np.testing.assert_allclose(forest.proba(sample), model.predict_proba(sample)[:, 1], atol=1e-9)
    clone = pickle.loads(pickle.dumps(forest))
    assert "_fast2" not in clone.__dict__
    np.testing.assert_array_equal(clone.raw(sample), forest.raw(sample))


def test_flat_forest_of_single_leaf_trees_and_no_rows():
    X = np.random.default_rng(0).random((100, 3))
    model = HistGradientBoostingRegressor(max_iter=5, min_samples_leaf=80).fit(X, np.ones(100))
    forest = FlatForest(model)
    assert forest.depth == 1
    np.testing.assert_allclose(forest.raw(X[:7]), model.predict(X[:7]))
    assert forest.raw(np.zeros((0, 3))).size == 0


# -- the whole first request --------------------------------------------------------------------
@pytest.fixture(scope="module")
def fitted():
    # the model test_recommend_serving trains (one fit per session): these checks hold for any fitted model
    model = synth_model(80, 5, datetime(2024, 3, 10, 12, tzinfo=UTC))
    return model.rec, model.by_hh


def test_first_request_equals_cached_request(fitted):
    rec, by_hh = fitted
    for h in sorted(by_hh)[:15]:
        for phrase in ("milk", "bananas", "tp", "detergent"):
            rec._cache.clear()
            rec._profiles.clear()
            first = rec.resolve(phrase, by_hh[h], k=5, now=NOW)
            again = rec.resolve(phrase, by_hh[h], k=5, now=NOW)
            backwards = rec.resolve(phrase, by_hh[h][::-1], k=5, now=NOW)
            assert first == again == backwards


def test_one_household_features_equal_its_row_in_a_stack(fitted):
    rec, by_hh = fitted
    day = NOW.timestamp() / DAY
    profs = [rec.profile(by_hh[h]) for h in sorted(by_hh)[:8]]
    for _i, prof in enumerate(profs):
        for phrase in ("milk", "eggs", "soda"):
            rows, X = rec.resolve_inputs(phrase, prof, day)
            # the same request as the last of a stack of several households
            items = [("milk", p, day) for p in profs if p is not prof] + [(phrase, prof, day)]
            rows_l, X_many, starts = rec.resolve_inputs_many(items)
            assert np.array_equal(rows_l[-1], rows)
            assert np.array_equal(X_many[starts[-1]:], X, equal_nan=True)
