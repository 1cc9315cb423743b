"""Serving paths that must agree with the one-request-at-a-time path, timing without leakage, and
training progress."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from replenish.domain.history import Purchase
from replenish.recommend import features as F
from replenish.recommend import timing as TM
from replenish.recommend.batch import run_batch
from tests.unit.recommend_models import synth_model

NOW = datetime(2024, 3, 10, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def model():
    return synth_model(80, 5, NOW)  # shared with test_recommend_fast_paths


@pytest.fixture(scope="module")
def data(model):
    return model.products, model.purchases, model.by_hh


@pytest.fixture(scope="module")
def fitted(model):
    return model.rec, model.stages


def test_fit_reports_each_stage(fitted):
    names = [s for s, _ in fitted[1]]
    for stage in ("reading purchase history", "building training examples", "fitting resolve ranker",
                  "fitting buy-again model", "fitting timing model", "packing the model"):
        assert stage in names
        assert (stage, 1.0) in fitted[1]
    assert names.index("fitting resolve ranker") < names.index("packing the model")


def test_batch_answers_match_single_requests(fitted, data):
    rec, by_hh = fitted[0], data[2]
    phrases = ["milk", "almond milk", "bananas", "tp", "detergent", "coffee", "xqzv"]
    ids = sorted(by_hh)
    lines = [json.dumps({"id": str(i), "kind": "resolve", "household": ids[i % len(ids)],
                         "query": phrases[i % len(phrases)], "k": 1 + i % 4}) for i in range(150)]
    lines.insert(7, json.dumps({"id": "b", "kind": "buy_again", "household": ids[0], "k": 2}))
    lines.insert(9, "{oops")
    got = list(run_batch(rec, lambda h: by_hh.get(h, []), lines, chunk=32))
    assert len(got) == len(lines) and got[7]["id"] == "b" and "error" in got[9]
    for line, answer in zip(lines, got, strict=False):
        req = json.loads(line) if line != "{oops" else None
        if req is None or req["kind"] != "resolve":
            continue
        single = rec.resolve(req["query"], by_hh[req["household"]], k=req["k"])
        assert answer["id"] == req["id"]
        assert [(c["product"], c["score"], c["reason"]) for c in answer["results"]] == \
            [(c.sku, c.score, c.reason) for c in single]


def test_stacked_features_equal_per_request_features(fitted, data):
    rec, by_hh = fitted[0], data[2]
    day = NOW.timestamp() / 86400
    items = [(ph, rec.profile(by_hh[h]), day) for h in sorted(by_hh)[:12] for ph in ("milk", "eggs", "soda")]
    items.append(("milk", rec.profile([]), day))
    rows, X, starts = rec.resolve_inputs_many(items)
    for (phrase, prof, now), r, s in zip(items, rows, starts, strict=False):
        one_rows, one_X = rec.resolve_inputs(phrase, prof, now)
        assert np.array_equal(one_rows, r)
        np.testing.assert_allclose(X[s:s + r.size], one_X, equal_nan=True)
    assert X.shape[1] == len(F.RESOLVE_COLUMNS)


def test_timing_ignores_what_happened_after_the_last_purchase(fitted, data):
    """The learned timing sees a product's history up to its last purchase only: orders placed since
    (without it) must not move the prediction -- that is how it read answers off held-out orders."""
    rec, products = fitted[0], data[0]
    milk = next(p.sku for p in products if "Milk" in p.title)
    eggs = next(p.sku for p in products if "Eggs" in p.title)
    last = NOW - timedelta(days=40)
    base = [Purchase("t", milk, last - timedelta(days=7 * i), 1, f"m{i}") for i in range(8)]
    base += [Purchase("t", eggs, last - timedelta(days=7 * i + 1), 1, f"e{i}") for i in range(8)]
    later = base + [Purchase("t", eggs, last + timedelta(days=6 * i), 1, f"l{i}") for i in range(1, 6)]
    a = rec.next_purchase(sorted(base, key=lambda p: p.ordered_at), milk)
    b = rec.next_purchase(sorted(later, key=lambda p: p.ordered_at), milk)
    assert a.days_after_last == b.days_after_last and a.last_purchased_at == b.last_purchased_at
    assert 3 <= a.days_after_last <= 21


def test_each_training_interval_sees_what_serving_would_have_seen_then(fitted, data):
    """Every timing example's features equal the serving features of the history cut at the purchase the
    interval starts from: the household's order rhythm included, nothing from the interval itself. Only
    ``later_orders`` differs (how far from the history's end it ended; 0 when serving)."""
    rec, by_hh = fitted[0], data[2]
    later = TM.COLUMNS.index("later_orders")
    checked = 0
    for h in sorted(by_hh)[:6]:
        prof = rec.profile(by_hh[h])
        X, gaps = TM.interval_examples(prof, rec.usage, last_orders=1000)
        r, d = prof.line_rows, prof.line_days
        starts = np.flatnonzero(np.r_[False, r[1:] == r[:-1]]) - 1
        assert X.shape == (starts.size, TM.N_FEATURES) and np.all(gaps > 0)
        for x, s in zip(X, starts, strict=True):
            upto = [p for p in by_hh[h] if p.ordered_at.timestamp() / 86400 <= d[s] + 1e-9]
            cut = rec.profile(upto)
            pos, _ = cut.lookup(np.array([r[s]]))
            served = TM.features(cut, pos, cut.rows[pos], rec.usage, 1.0)[0]
            np.testing.assert_allclose(np.delete(served, later), np.delete(x, later), equal_nan=True)
            assert served[later] == 0
            checked += 1
    assert checked > 50


def test_timing_reads_the_households_order_rhythm_as_of_the_last_purchase(fitted, data):
    """The order-gap features come from the household's orders up to the product's last purchase; a
    household that orders every 10 days has gaps of 10 days, and its median gap is 10."""
    rec, products = fitted[0], data[0]
    milk = next(p.sku for p in products if "Milk" in p.title)
    eggs = next(p.sku for p in products if "Eggs" in p.title)
    last = NOW - timedelta(days=5)
    history = [Purchase("t", eggs, last - timedelta(days=10 * i), 1, f"e{i}") for i in range(1, 7)]
    history += [Purchase("t", milk, last - timedelta(days=20 * i), 1, f"m{i}") for i in range(3)]
    prof = rec.profile(sorted(history, key=lambda p: p.ordered_at))
    pos, _ = prof.lookup(np.array([rec.index.row_of[milk]]))
    x = dict(zip(TM.COLUMNS, TM.features(prof, pos, prof.rows[pos], rec.usage, 1.0)[0], strict=True))
    assert x["gap_1"] == x["gap_2"] == x["gap_3"] == x["recent_gap"] == x["median_gap"] == pytest.approx(10)
    assert x["last_int_orders"] == 2 and x["orders_per_int"] == 2 and x["share_since_first"] == pytest.approx(3 / 5)
    assert x["by_orders"] == pytest.approx(20) and x["later_orders"] == 0


def test_a_households_time_zone_is_kept_a_while_then_read_again(container, settings, clock):
    from replenish.services.recommendations import ZONE_SECONDS, Recommendations
    now = [0.0]
    recs = Recommendations(container.deps.uow, settings.model_dir, clock, timer=lambda: now[0])
    assert recs._zone("h1").key == "America/New_York"
    with container.uow() as uow:
        uow.households.get("h1").time_zone = "Europe/Paris"
        uow.commit()
    now[0] += ZONE_SECONDS - 1
    assert recs._zone("h1").key == "America/New_York"  # kept: no database read for it on every request
    now[0] += 1
    assert recs._zone("h1").key == "Europe/Paris"  # its reasons say dates in the new zone from here
