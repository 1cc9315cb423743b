"""The resolver on Instacart-style data it was not designed around: real-looking product names (no
brand column, head nouns not always last, "Bag of ...", flavours after the noun), aisles and
departments as Instacart has them, and shoppers with habits, switches and impulse buys."""
from __future__ import annotations

import numpy as np
import pytest

from catalog.instacart import Order, write_dataset
from replenish.recommend.evaluate import TARGET_RULES, evaluate, format_report

# (department, aisle, names); within a need the first names are the more popular ones
NEEDS = [
    ("dairy eggs", "milk", ["Organic Whole Milk", "2% Reduced Fat Milk", "Organic Reduced Fat Milk",
                            "Whole Milk", "Lactose Free Fat Free Milk", "Organic Half & Half"]),
    ("dairy eggs", "soy lactosefree", ["Organic Unsweetened Almond Milk",
                                       "Unsweetened Original Almond Breeze Almond Milk",
                                       "Almond Breeze Unsweetened Vanilla Almond Milk", "Original Oat Milk"]),
    ("produce", "fresh fruits", ["Banana", "Bag of Organic Bananas", "Organic Banana"]),
    ("produce", "fresh fruits", ["Strawberries", "Organic Strawberries", "Organic Blueberries"]),
    ("produce", "fresh vegetables", ["Organic Hass Avocado", "Large Hass Avocado", "Organic Avocado"]),
    ("produce", "packaged vegetables fruits", ["Organic Baby Spinach", "Baby Spinach", "Organic Spring Mix"]),
    ("dairy eggs", "eggs", ["Organic Large Brown Grade AA Cage Free Eggs", "Large Grade A Eggs",
                            "Pasture Raised Large Brown Eggs", "Organic Omega-3 Eggs"]),
    ("beverages", "water seltzer sparkling water", ["Sparkling Water Grapefruit", "Lime Sparkling Water",
                                                    "Pure Sparkling Water", "Sparkling Natural Mineral Water"]),
    ("dairy eggs", "yogurt", ["Total 0% Nonfat Greek Yogurt", "Plain Whole Milk Yogurt", "Vanilla Skyr Yogurt",
                              "Strawberry Lowfat Greek Yogurt"]),
    ("bakery", "bread", ["100% Whole Wheat Bread", "Organic 21 Whole Grains Bread", "Sourdough Bread",
                         "Honey Wheat Bread"]),
    ("beverages", "coffee", ["Medium Roast Ground Coffee", "French Roast Whole Bean Coffee",
                             "Breakfast Blend Ground Coffee"]),
    ("household", "paper goods", ["Ultra Soft Toilet Paper Mega Rolls", "Clean Care Toilet Paper",
                                  "Select-A-Size Paper Towels"]),
    ("household", "laundry", ["Free & Clear Liquid Laundry Detergent", "Original Scent Laundry Detergent Pacs",
                              "Lavender Laundry Detergent"]),
    ("snacks", "chips pretzels", ["Sea Salt Tortilla Chips", "Restaurant Style Tortilla Chips", "Kettle Potato Chips"]),
    ("pantry", "spreads", ["Creamy Peanut Butter", "Organic Crunchy Peanut Butter", "Almond Butter"]),
]


def _catalog():
    products, by_need, pop = [], [], [0.0]
    for dept, aisle, names in NEEDS:
        ids = []
        for rank, name in enumerate(names):
            pid = len(products) + 1
            products.append((pid, name, dept, aisle))
            ids.append(pid)
            pop.append(1.0 / (rank + 1))
        by_need.append(np.array(ids))
    return products, by_need, np.array(pop)


def _orders(households: int, by_need, pop, rng):
    oid = 0
    all_ids = np.arange(1, pop.size)
    for user in range(1, households + 1):
        needs = rng.choice(len(by_need), size=int(rng.integers(4, 10)), replace=False)
        habits = []
        for n in needs:
            ids = by_need[n]
            fav = int(rng.choice(ids, p=pop[ids] / pop[ids].sum()))
            habits.append([ids, fav, float(rng.uniform(5, 25)), float(rng.uniform(0, 10)), float(rng.beta(5, 1.5))])
        day, n_orders = 0.0, int(rng.integers(6, 25))
        for number in range(1, n_orders + 1):
            gap = 0.0 if number == 1 else float(rng.integers(3, 15))
            day += gap
            basket = set()
            for h in habits:
                ids, fav, interval, due, loyalty = h
                if due <= day:
                    if rng.random() < loyalty:
                        basket.add(fav)
                    else:
                        other = int(rng.choice(ids, p=pop[ids] / pop[ids].sum()))
                        basket.add(other)
                        if rng.random() < 0.15:
                            h[1] = other  # switched for good
                    h[3] = day + interval * rng.lognormal(0, 0.2)
            if rng.random() < 0.5:
                basket.add(int(rng.choice(all_ids)))  # impulse buy
            if basket:
                oid += 1
                yield Order(oid, user, number, None if number == 1 else gap, tuple(sorted(basket)),
                            "train" if number == n_orders else "prior", 0, 10)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("instacart_names")
    rng = np.random.default_rng(7)
    products, by_need, pop = _catalog()
    write_dataset(d, products, _orders(300, by_need, pop, rng))
    return d


@pytest.fixture(scope="module")
def report(data_dir):
    return evaluate(data_dir, progress=lambda stage, fraction: PROGRESS.append((stage, fraction)))


PROGRESS: list[tuple[str, float]] = []  # what ``report`` showed while it ran


def test_evaluation_shows_its_progress_through_to_the_end(report):
    evaluating = [f for stage, f in PROGRESS if stage == "evaluating"]
    assert any(stage.startswith("reading") for stage, _ in PROGRESS)
    assert len(evaluating) >= 10 and evaluating == sorted(evaluating)  # steady steps, never backwards
    assert evaluating[-1] == 1.0 and max(b - a for a, b in zip(evaluating, evaluating[1:], strict=False)) <= 0.05


@pytest.mark.parametrize("section", ["resolve 1-word, bought a match before", "resolve 2-word, bought a match before"])
def test_learned_resolver_is_at_least_as_good_as_the_best_baseline(report, section):
    methods = report.sections[section]
    best = max(v["top-1"] for m, v in methods.items() if m != "learned")
    assert report.counts[section] >= 150, format_report(report)
    assert methods["learned"]["top-1"] >= best, format_report(report)


def test_buy_again_and_timing_hold_up_against_their_baselines(report):
    # buy-again is close on so small a set (0.92 vs 0.91): guard against a real regression only
    assert report.sections["buy-again"]["learned"]["Recall@10"] >= \
        report.sections["buy-again"]["personal top-frequency"]["Recall@10"] - 0.02, format_report(report)
    timing = report.sections["timing"]
    assert timing["learned"]["MAE days"] <= timing["median interval"]["MAE days"], format_report(report)


def test_each_margin_comes_with_an_interval_that_holds_it(report):
    # households resampled: the interval is around the margin printed above it, and printed beneath it
    for section, methods in report.sections.items():
        rules = {m: v for m, v in methods.items() if m != "learned"}
        for metric, (lo, hi) in report.intervals[section].items():
            if "MAE" in metric:
                best = min(v[metric] for v in rules.values())
                margin = (methods["learned"][metric] - best) / best * 100
            else:
                margin = (methods["learned"][metric] - max(v[metric] for v in rules.values())) * 100
            assert lo <= margin + 1e-9 and margin - 1e-9 <= hi, (section, metric, lo, margin, hi)
    # where a target's rule is not the best one, the margin against it is printed too, with its own interval
    assert report.target_intervals, format_report(report)
    for section, bounds in report.target_intervals.items():
        methods, rule = report.sections[section], TARGET_RULES[section]
        for metric, (lo, hi) in bounds.items():
            learned, base = methods["learned"][metric], methods[rule][metric]
            margin = (learned - base) / base * 100 if "MAE" in metric else (learned - base) * 100
            assert lo <= margin + 1e-9 and margin - 1e-9 <= hi, (section, metric, lo, margin, hi)
        printed = format_report(report).split(f"{section} (n=")[1].split("\n\n")[0]
        assert f"learned vs {rule} (target)" in printed
    text = format_report(report)
    lo, hi = report.intervals["buy-again"]["Recall@10"]
    assert lo < hi  # the learned ranker and the rule differ on some households: resampling moves the margin
    assert f"{lo:+.1f}..{hi:+.1f}" in text.split("buy-again")[1].split("\n\n")[0]


def test_the_chart_draws_each_margin_at_its_place_in_its_interval(report):
    import xml.etree.ElementTree as ET

    from replenish.recommend.evaluate import margins
    from replenish.recommend.evaluate_chart import forest_svg
    svg = ET.fromstring(forest_svg(report, "Learned vs simple rules: names, 300 households"))
    ns = {"s": "http://www.w3.org/2000/svg"}
    rows = svg.findall(".//s:g", ns)
    drawn = [m for m in margins(report) if m.low is not None]
    assert len(rows) == len(drawn) > 5
    for m, row in zip(drawn, rows, strict=True):
        line, dot = row.find("s:line", ns), row.find("s:circle", ns)
        x1, x2, cx = float(line.get("x1")), float(line.get("x2")), float(dot.get("cx"))
        assert x1 <= cx <= x2, (m, x1, cx, x2)
        # right is better: an MAE margin is drawn turned around, and the colour says which side the interval is on
        better = -m.high if m.lower_is_better else m.low
        worse = -m.low if m.lower_is_better else m.high
        assert row.get("class") == "row " + ("better" if better > 0 else "worse" if worse < 0 else "unclear")
        words = " ".join(t.text or "" for t in row.iter(f"{{{ns['s']}}}text"))
        assert m.section in words and m.rule in words


def test_evaluate_draws_the_chart_it_is_asked_for(data_dir, report, tmp_path, monkeypatch):
    import xml.etree.ElementTree as ET

    from click.testing import CliRunner

    from replenish.cli import main
    from replenish.recommend import evaluate as module
    monkeypatch.setattr(module, "evaluate", lambda *args, **kwargs: report)  # the module's run, not another one
    chart = tmp_path / "margins.svg"
    result = CliRunner().invoke(main, ["evaluate", "--data", str(data_dir), "--chart", str(chart)])
    assert result.exit_code == 0, result.output
    assert "learned vs best rule" in result.output and f"chart: {chart}" in result.output
    title = ET.parse(chart).getroot().find("{http://www.w3.org/2000/svg}title")
    assert title is not None and title.text == f"Learned vs simple rules: {data_dir.name}, 300 households"
