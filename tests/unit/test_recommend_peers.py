"""Households that shop alike (user-kNN) and a household's habits in a category: the signals the learned
rankers see for "what would this household pick the first time" and "which of its milks it buys now"."""
from __future__ import annotations

import numpy as np

from replenish.recommend import features as F
from replenish.recommend import neighbours as N
from replenish.recommend.profile import Profile

# products: 0 cereal, 1 oat milk, 2 whole milk, 3 beer, 4 crisps, 5 granola
CEREAL, OAT, WHOLE, BEER, CRISPS, GRANOLA = range(6)


def _history(baskets_by_household: list[list[list[int]]]):
    hh, rows, days = [], [], []
    for h, baskets in enumerate(baskets_by_household):
        for d, basket in enumerate(baskets):
            hh += [h] * len(basket)
            rows += basket
            days += [float(d * 7)] * len(basket)
    return np.array(hh, np.int32), np.array(rows, np.int32), np.array(days)


def _profile(baskets: list[list[int]]) -> Profile:
    rows = np.array([r for b in baskets for r in b])
    days = np.array([float(d * 7) for d, b in enumerate(baskets) for _ in b])
    return Profile.build(rows, days)


def test_households_that_shop_alike_point_to_what_they_buy():
    breakfast = [[CEREAL, OAT, GRANOLA]] * 3
    party = [[BEER, CRISPS, WHOLE]] * 3
    peers = N.Peers.build(*_history([breakfast, breakfast, party, party]), n_products=6)
    scores = peers.scores(_profile([[CEREAL], [CEREAL, GRANOLA]]))
    # a cereal-and-granola household never bought milk: its peers drink oat milk, not whole milk
    assert scores[OAT] > 0 and scores[WHOLE] == 0 and scores[BEER] == 0
    assert list(scores[np.array([BEER, OAT])]) == [0, scores[OAT]]  # any rows at once, as the rankers read them


def test_a_household_is_not_its_own_peer():
    alone = [[CEREAL, OAT]] * 2
    other = [[BEER, CRISPS]] * 2
    peers = N.Peers.build(*_history([alone, other]), n_products=6)
    # training leaves the household's own history out; serving skips a reference identical to it
    assert not peers.scores(_profile([[CEREAL]]), exclude=0)[OAT]
    assert not peers.scores(_profile(alone))[np.arange(6)].any()


def test_habits_tell_the_milk_bought_now_from_the_one_it_moved_on_from():
    # whole milk in the first four orders, oat milk in the last three, cereal in every order
    prof = _profile([[WHOLE, CEREAL]] * 4 + [[OAT, CEREAL]] * 3)
    leaf = np.array([1, 2, 2, 3, 4, 1])  # both milks are one category
    h = dict(zip(F.HABITS, habits_of(prof, leaf), strict=True))
    assert list(h["leaf_latest"]) == [1, 1, 0]                 # cereal, oat milk: latest picks; whole milk not
    assert h["recent_share"][1] == 0.6 and h["recent_share"][2] == 0.4  # of the last five orders
    assert h["rate_since_first"][1] == 1.0 and h["rate_since_first"][2] == 4 / 7
    assert h["leaf_loyalty"][1] == 3 / 7 and h["leaf_loyalty"][0] == 1.0


def habits_of(prof: Profile, leaf: np.ndarray) -> list[np.ndarray]:
    return list(F.habits(prof, leaf).T)


def test_sparse_scores_read_the_same_as_the_whole_catalog_product():
    # a household's co-purchase scores are kept for the products its neighbours point to; any row reads
    # what w @ S over the whole catalog would give there, 0 included
    from scipy import sparse
    rng = np.random.default_rng(3)
    S = sparse.random(40, 40, density=0.1, random_state=4, format="csr", dtype=np.float32)
    prof = _profile([[1, 5, 7], [5, 9], [1, 5, 30]])
    dense = np.asarray(S[prof.rows].T @ N.weights(prof)).ravel()
    got = N.scores(S, prof)
    rows = rng.permutation(40)
    assert np.allclose(got[rows], dense[rows]) and (dense == 0).any() and (dense > 0).any()
