import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from catalog.instacart import read_products, read_purchases
from catalog.model import Product
from replenish.domain.history import Purchase
from replenish.recommend import Recommender, packs_for_slot
from replenish.recommend.batch import run_batch
from replenish.recommend.synth import generate

NOW = datetime(2024, 3, 10, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("synth")
    generate(150, d, seed=3)
    return list(read_products(d)), list(read_purchases(d, anchor=NOW - timedelta(days=30)))


@pytest.fixture(scope="module")
def learned(data):
    return Recommender.fit(*data)


@pytest.fixture(scope="module")
def baseline(data):
    return Recommender.baseline(data[0])


def sku_of(products, title_start):
    return next(p.sku for p in products if p.title.startswith(title_start))


def habit(sku, times, every_days, last=NOW - timedelta(days=3), hh="h1"):
    return [Purchase(hh, sku, last - timedelta(days=every_days * i), 1, f"o{i}") for i in range(times)]


@pytest.mark.parametrize("model", ["learned", "baseline"])
def test_loyal_almond_milk_household_gets_it_first_for_milk(request, data, model):
    rec = request.getfixturevalue(model)
    almond = next(p.sku for p in data[0] if "Almond Milk" in p.title and not p.title.startswith("Silk"))
    top = rec.resolve("milk", habit(almond, 8, 8), k=3, now=NOW)
    assert top[0].sku == almond
    assert top[0].reason.startswith("you've bought this 8 times, most recently on March 7")
    assert 0 <= top[0].score <= 1 and len(top) == 3


def test_no_history_gets_popular_in_stock_products(learned):
    top = learned.resolve("milk", [], k=3, now=NOW)
    assert top and all(c.product.available and "milk" in c.product.title.lower() for c in top)
    pop = [learned.usage.lines[learned.index.row_of[c.sku]] for c in top]
    assert pop[0] == max(pop)
    assert [c.sku for c in learned.buy_again([], k=3)] == [
        learned.products[r].sku for r in np.argsort(-learned.usage.lines, kind="stable")[:3]]


def test_unavailable_products_are_skipped():
    ps = [Product("a", "Silk Almond Milk", available=False), Product("b", "Horizon Whole Milk")]
    rec = Recommender.baseline(ps)
    assert [c.sku for c in rec.resolve("milk", habit("a", 5, 7), k=3, now=NOW)] == ["b"]
    assert [c.sku for c in rec.resolve("milk", habit("a", 5, 7), k=3, now=NOW, available_only=False)][0] == "a"


def test_buy_again_puts_habits_first(learned, data):
    milk, eggs = sku_of(data[0], "Horizon"), next(p.sku for p in data[0] if "Eggs" in p.title)
    history = habit(milk, 10, 6) + habit(eggs, 2, 40)
    assert [c.sku for c in learned.buy_again(history, k=2, now=NOW)][0] == milk


def test_timing_follows_a_regular_cycle_and_running_low(learned, data):
    milk = sku_of(data[0], "Horizon")
    history = habit(milk, 10, 7, last=NOW - timedelta(days=6))
    t = learned.next_purchase(history, milk, now=NOW)
    assert 3 <= t.days_after_last <= 14 and t.low <= t.days_after_last <= t.high
    assert learned.next_purchase(history, "no-such-sku") is None
    low = learned.running_low(history, now=NOW, horizon_days=7)
    assert [x.sku for x in low] == [milk]


def test_quantity_and_slot_packs(baseline, data):
    milk = sku_of(data[0], "Horizon")
    history = [Purchase("h", milk, NOW - timedelta(days=i), q, str(i)) for i, q in enumerate([2, 2, 3, 2])]
    assert baseline.quantity(history, milk) == 2
    assert baseline.quantity([], milk) == 1
    assert packs_for_slot(pack_size=50, remaining=15, target=100) == 2
    assert packs_for_slot(pack_size=50, remaining=100, target=100) == 0
    assert packs_for_slot(pack_size=500, remaining=99, target=100) == 1


def test_save_and_load_latest(tmp_path, learned):
    assert Recommender.load_latest(tmp_path) is None
    path = learned.save(tmp_path)
    meta = json.loads(Path(f"{path}/meta.json").read_text())
    assert {"version", "created_at", "n_purchases", "n_households", "n_products", "metrics"} <= meta.keys()
    loaded = Recommender.load_latest(tmp_path)
    assert loaded.resolve("milk", [], now=NOW)[0].sku == learned.resolve("milk", [], now=NOW)[0].sku


def test_batch_reports_bad_lines_and_continues(learned, data):
    milk = sku_of(data[0], "Horizon")
    histories = {"17": habit(milk, 6, 7, hh="17")}
    lines = [
        "{not json",
        json.dumps({"id": "r0", "kind": "teleport", "household": "17"}),
        json.dumps({"id": "r1", "kind": "resolve", "household": "17", "query": "milk", "k": 2}),
        json.dumps({"id": "r2", "kind": "buy_again", "household": "17", "k": 1}),
        json.dumps({"id": "r3", "kind": "next_purchase", "household": "17", "product": milk}),
        json.dumps({"id": "r4", "kind": "next_purchase", "household": "17", "product": "nope"}),
        json.dumps({"id": "r5", "kind": "resolve", "household": "17"}),
    ]
    out = list(run_batch(learned, lambda h: histories.get(h, []), lines))
    assert "invalid JSON" in out[0]["error"]
    assert out[1]["id"] == "r0" and "unknown kind" in out[1]["error"]
    assert out[2]["id"] == "r1" and out[2]["results"][0]["product"] == milk and len(out[2]["results"]) == 2
    assert set(out[2]["results"][0]) == {"product", "score", "reason"}
    assert out[3]["results"][0]["product"] == milk
    assert set(out[4]) == {"id", "days_after_last", "low", "high"}
    assert "unknown product" in out[5]["error"]
    assert "query" in out[6]["error"]


def test_synth_can_shape_households_like_instacarts_users(tmp_path, cli_env):
    """`replenish synth --orders instacart`: 4 to 100 orders a household, most of them few, about 16.6 on average
    (so 206,209 households make an Instacart-sized data set), with Instacart's ten or so lines an order."""
    import csv
    from collections import Counter

    from tests.cli_runs import run
    code, out = run("synth", "--households", "400", "--orders", "instacart", "--out", str(tmp_path / "d"))
    assert code == 0, out
    with open(tmp_path / "d" / "orders.csv") as f:
        orders = list(csv.DictReader(f))
    per_household = np.array(list(Counter(o["user_id"] for o in orders).values()))
    assert per_household.size == 400 and per_household.min() >= 4 and per_household.max() <= 100
    assert 14 <= per_household.mean() <= 19 and np.median(per_household) < per_household.mean()
    with open(tmp_path / "d" / "order_products__prior.csv") as f:
        lines = sum(1 for _ in f) - 1
    assert 8 <= lines / sum(o["eval_set"] == "prior" for o in orders) <= 12
    code, out = run("synth", "--households", "5", "--orders", "weekly", "--out", str(tmp_path / "e"))
    assert code == 2 and "'weekly' is not one of 'wide', 'instacart'" in out
