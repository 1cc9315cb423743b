"""Churn and succession: what the household stopped buying, or moved on from, is not "running low",
not on the forecast, not bought again and not reordered by an appliance; "detergent" means laundry
detergent for the demo household. All before any model is trained (catalog baselines)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from catalog.demo import DEMO_HOUSEHOLD, demo_catalog, demo_history
from replenish.domain import commands
from replenish.domain.history import Purchase
from replenish.recommend import Recommender, churn

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
WEEKLY = {"DOLE-BANANAS-8", "EGGLANDS-WHITE-18", "HORIZON-WHOLE-64", "DAVES-21GRAIN-27"}
MOVED_ON = {"PAMPERS-SWAD-S3-52", "PAMPERS-SWAD-S4-46", "SIMILAC-360-30.8", "PEETS-MAJOR-WB-18",
            "COTTONELLE-ULTRA-12"}


@pytest.fixture(scope="module")
def catalog():
    return demo_catalog()


@pytest.fixture(scope="module")
def baseline(catalog):
    return Recommender.baseline(catalog)


@pytest.fixture(scope="module")
def history(catalog):
    return demo_history(DEMO_HOUSEHOLD["id"], catalog, NOW)


def test_size_three_diapers_and_other_dropped_products_are_not_running_low(baseline, history):
    for days in (7, 30, 365):
        listed = {t.sku for t in baseline.running_low(history, now=NOW, horizon_days=days, k=50)}
        assert not listed & MOVED_ON, days
    forecast = {t.sku for t in baseline.forecast(history, now=NOW, k=50)}
    assert not forecast & MOVED_ON
    assert {"SBUX-PIKE-WB-18", "HORIZON-WHOLE-64"} <= forecast  # what replaced Peet's, and the weekly shop
    again = [c.sku for c in baseline.buy_again(history, k=10, now=NOW)]
    assert not set(again) & MOVED_ON


def test_items_due_this_week_come_first_and_the_horizon_counts(baseline, history):
    week = baseline.running_low(history, now=NOW, horizon_days=7, k=50)
    month = baseline.running_low(history, now=NOW, horizon_days=30, k=50)
    assert {t.sku for t in week[:4]} == WEEKLY
    assert {t.sku for t in week} < {t.sku for t in month}  # a longer horizon lists more
    assert all(t.expected_at <= NOW + timedelta(days=7) for t in week)
    assert all(t.title and t.title != t.sku and 0.4 <= t.still_buying <= 1 for t in week)
    # the forecast lists the household's regulars in run-out order
    forecast = baseline.forecast(history, now=NOW, k=50)
    assert [t.expected_at for t in forecast] == sorted(t.expected_at for t in forecast)


def test_moving_to_the_next_size_retires_the_old_one():
    from catalog.model import Product
    cat = [Product("S3", "Pampers Swaddlers Diapers, Size 3, 52 Count", "Pampers", "baby/diapering/diapers"),
           Product("S4", "Pampers Swaddlers Diapers, Size 4, 46 Count", "Pampers", "baby/diapering/diapers"),
           Product("MILK", "Horizon Whole Milk", "Horizon", "grocery/dairy/milk")]
    rec = Recommender.baseline(cat)
    hist = [Purchase("h", "S3", NOW - timedelta(days=70 - 7 * i), 1, f"a{i}") for i in range(6)]  # weeks 70..35
    hist += [Purchase("h", "S4", NOW - timedelta(days=28 - 7 * i), 1, f"b{i}") for i in range(4)]  # weeks 28..7
    hist += [Purchase("h", "MILK", NOW - timedelta(days=63 - 7 * i), 1, f"c{i}") for i in range(9)]
    hist.sort(key=lambda p: p.ordered_at)
    low = {t.sku for t in rec.running_low(hist, now=NOW, horizon_days=7)}
    assert low == {"S4", "MILK"}
    s3 = rec.next_purchase(hist, "S3", now=NOW)
    assert s3.still_buying < churn.ACTIVE and rec.next_purchase(hist, "S4", now=NOW).still_buying > 0.8
    # the same silence without a successor is only "overdue", not "moved on"
    alone = [p for p in hist if p.sku != "S4"]
    assert rec.next_purchase(alone, "S3", now=NOW + timedelta(days=-14)).still_buying > \
        rec.next_purchase(hist, "S3", now=NOW + timedelta(days=-14)).still_buying


def test_probability_falls_with_silence_against_the_products_own_rhythm():
    ratio = np.array([0.5, 1.0, 2.0, 4.0, 60.0])
    p = churn.probability(np.full(5, 10.0), ratio * 7, np.full(5, 7.0), np.zeros(5))
    assert np.all(np.diff(p) < 0) and p[0] > 0.9 and p[-1] < 0.01
    assert np.isnan(churn.probability(np.zeros(1), np.full(1, np.nan), np.ones(1), np.zeros(1))[0])


@pytest.mark.parametrize("days", range(0, 390, 13))
def test_detergent_means_laundry_detergent_for_the_demo_household(baseline, catalog, days):
    now = NOW + timedelta(days=days)
    history = demo_history(DEMO_HOUSEHOLD["id"], catalog, now)
    top = baseline.resolve("detergent", history, k=1, now=now)[0]
    assert top.product.category == "household/laundry/detergent", (now, top.sku)


def test_detergent_without_history_is_laundry_detergent(baseline):
    assert all(c.product.category == "household/laundry/detergent" for c in baseline.resolve("detergent", [], k=3))
    assert baseline.resolve("dishwasher detergent", [], k=1)[0].product.category == \
        "household/dish/dishwasher detergent"


def test_demo_household_over_the_api_and_its_detergent_button(container, clock):
    from replenish.devices.services.handlers import resolve_category
    from replenish.importers import seed_demo
    from replenish.web import create_app
    seed_demo(container, now=clock())
    token = container.bus.handle(commands.IssueToken(DEMO_HOUSEHOLD["id"]))
    client = create_app(container).test_client()
    headers = {"Authorization": f"Bearer {token}"}
    week = client.get("/v1/recommendations/running-low?days=7&k=50", headers=headers).get_json()
    month = client.get("/v1/recommendations/running-low?days=30&k=50", headers=headers).get_json()
    assert week["days"] == 7 and month["days"] == 30
    assert len(month["results"]) > len(week["results"]) > 0
    assert {r["sku"] for r in week["results"][:4]} == WEEKLY
    assert all(r["title"] and r["title"] != r["sku"] for r in week["results"])
    assert not {r["sku"] for r in month["results"]} & MOVED_ON
    sku = resolve_category(container.deps, DEMO_HOUSEHOLD["id"], "detergent")
    with container.uow() as uow:
        assert uow.products.get(sku).category == "household/laundry/detergent"


def test_an_appliance_does_not_reorder_what_the_household_moved_on_from(container, clock):
    from replenish.devices.services.handlers import _expected_purchase
    now = clock()
    with container.uow() as uow:
        uow.purchases.add_many([Purchase("h1", "TIDE-PODS-42", now - timedelta(days=400 + 30 * i), 1, f"a{i}")
                                for i in range(6)])
        uow.purchases.add_many([Purchase("h1", "TIDE-PODS-81", now - timedelta(days=25 + 30 * i), 1, f"b{i}")
                                for i in range(6)])
        uow.session.commit()
    assert _expected_purchase(container.deps, "h1", "TIDE-PODS-42") is None
    assert _expected_purchase(container.deps, "h1", "TIDE-PODS-81") is not None
