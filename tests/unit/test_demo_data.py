"""The demo catalog and the demo household's purchase history."""
from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from catalog.demo import (
    CATEGORY_FAMILIES,
    DEMO_HOUSEHOLD,
    DEMO_REGULARS,
    UNAVAILABLE,
    category_family,
    demo_catalog,
    demo_history,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def catalog():
    return demo_catalog()


@pytest.fixture(scope="module")
def by_sku(catalog):
    return {p.sku: p for p in catalog}


@pytest.fixture(scope="module")
def history(catalog):
    return demo_history(DEMO_HOUSEHOLD["id"], catalog, NOW)


def _median_gap_days(purchases, sku_prefixes) -> float:
    times = sorted({p.ordered_at for p in purchases if p.sku.startswith(sku_prefixes)})
    return statistics.median((b - a).total_seconds() / 86400 for a, b in zip(times, times[1:], strict=False))


# ------------------------------------------------------------------------------------------- catalog

def test_catalog_is_large_and_skus_are_unique(catalog):
    assert len(catalog) >= 300
    assert len({p.sku for p in catalog}) == len(catalog)


def test_catalog_is_deterministic(catalog):
    assert demo_catalog() == catalog


def test_every_category_family_is_present(catalog):
    counts = Counter(category_family(p.category) for p in catalog)
    assert None not in counts, "every product belongs to a family"
    for family in CATEGORY_FAMILIES:
        assert counts[family] >= 10, family


@pytest.mark.parametrize("category", [
    "household/laundry/detergent", "household/laundry/fabric softener", "household/laundry/dryer sheets",
    "household/laundry/stain remover", "household/dish/dishwasher detergent", "household/dish/dish soap",
    "household/dish/rinse aid", "household/paper/toilet paper", "household/paper/paper towels",
    "household/paper/facial tissues", "household/paper/napkins", "household/cleaning/trash bags",
    "household/cleaning/sponges", "grocery/coffee/whole bean coffee", "grocery/coffee/ground coffee",
    "grocery/coffee/coffee pods", "grocery/coffee/espresso capsules", "pet/dog/dry dog food",
    "pet/dog/wet dog food", "pet/cat/cat food", "pet/cat/cat litter", "baby/diapering/diapers",
    "baby/diapering/baby wipes", "baby/feeding/formula", "personal care/hair/shampoo",
    "personal care/oral/toothbrush heads", "personal care/shaving/razors",
    "appliance/water filters/refrigerator water filters", "appliance/water filters/pitcher water filters",
    "appliance/printer/ink cartridges", "appliance/printer/toner cartridges", "appliance/coffee machine/descaler",
    "appliance/vacuum/vacuum bags", "appliance/hvac/air filters", "appliance/batteries/aa batteries",
    "appliance/batteries/aaa batteries", "grocery/dairy/milk", "grocery/dairy alternatives/almond milk",
    "grocery/dairy alternatives/oat milk", "grocery/dairy/eggs", "grocery/bakery/bread", "grocery/produce/bananas",
    "grocery/breakfast/cereal", "grocery/pantry/rice", "grocery/pantry/olive oil",
])
def test_category_is_stocked(catalog, category):
    assert sum(p.category == category for p in catalog) >= 2


def test_products_are_well_formed(catalog):
    for p in catalog:
        assert p.price_cents > 0, p.sku
        assert p.pack_size > 0, p.sku
        assert p.title and p.brand and p.unit, p.sku
        assert p.sku == p.sku.upper() and " " not in p.sku, p.sku
        assert p.category.count("/") >= 2, p.sku
        assert p.synonyms, p.sku
        assert len(set(p.synonyms)) == len(p.synonyms), p.sku


def test_prices_are_plausible(by_sku):
    assert 1000 <= by_sku["TIDE-PODS-ORIG-42"].price_cents <= 2000
    assert by_sku["CHARMIN-ULTRA-SOFT-24"].price_cents < 5000
    assert by_sku["HORIZON-WHOLE-64"].price_cents < 1000
    assert all(p.price_cents < 30000 for p in by_sku.values())


def test_main_lines_have_several_pack_sizes(by_sku):
    for line, sizes in {"TIDE-PODS-ORIG": (42, 81, 112), "CHARMIN-ULTRA-SOFT": (12, 18, 24),
                        "TIDE-LIQ-ORIG": (64, 92, 154)}.items():
        for size in sizes:
            assert f"{line}-{size}" in by_sku
    p = by_sku["TIDE-PODS-ORIG-42"]
    assert p.title == "Tide PODS Laundry Detergent Pacs, Original, 42 Count"
    assert (p.pack_size, p.unit, p.brand) == (42, "count", "Tide")
    assert by_sku["CHARMIN-ULTRA-SOFT-18"].unit == "rolls"
    assert by_sku["TIDE-LIQ-ORIG-92"].unit == "fl oz"


def test_bigger_packs_cost_less_per_unit(by_sku):
    small, large = by_sku["TIDE-PODS-ORIG-42"], by_sku["TIDE-PODS-ORIG-112"]
    assert large.price_cents > small.price_cents
    assert large.price_cents / large.pack_size < small.price_cents / small.pack_size


def test_diapers_come_in_sizes(catalog):
    sizes = {s for p in catalog if p.category == "baby/diapering/diapers" for s in range(1, 7)
             if f"Size {s}," in p.title}
    assert sizes == {1, 2, 3, 4, 5, 6}


def test_some_products_are_unavailable(catalog):
    unavailable = {p.sku for p in catalog if not p.available}
    assert unavailable == UNAVAILABLE
    assert 5 <= len(unavailable) < len(catalog) // 10


def test_synonyms_cover_what_people_say(catalog):
    said = {s for p in catalog for s in p.synonyms}
    for word in ("laundry soap", "tp", "k cups", "kitty litter", "nappies", "kitchen roll", "fridge filter"):
        assert word in said, word


def test_demo_household():
    assert DEMO_HOUSEHOLD["id"] == "demo"
    assert DEMO_HOUSEHOLD["time_zone"] == "America/Los_Angeles"
    assert DEMO_HOUSEHOLD["name"] and DEMO_HOUSEHOLD["address"]
    assert all(isinstance(m, str) and m for m in DEMO_HOUSEHOLD["members"])


# ------------------------------------------------------------------------------------------- history

def test_regulars_use_available_catalog_products(by_sku):
    for r in DEMO_REGULARS:
        for sku in (r.sku, *r.alternates, *([r.later_sku] if r.later_sku else [])):
            assert sku in by_sku and by_sku[sku].available, sku


def test_history_is_deterministic(catalog, history):
    assert demo_history(DEMO_HOUSEHOLD["id"], catalog, NOW) == history
    assert demo_history(DEMO_HOUSEHOLD["id"], catalog, NOW, seed=8) != history


def test_history_spans_about_two_years_before_now(history):
    times = [p.ordered_at for p in history]
    assert all(t.tzinfo is not None and t.utcoffset() == timedelta(0) for t in times)
    assert max(times) < NOW
    assert NOW - max(times) < timedelta(days=7)
    assert timedelta(days=700) <= max(times) - min(times) <= timedelta(days=731)
    assert times == sorted(times)


def test_history_is_for_the_household_and_in_the_catalog(history, by_sku):
    assert {p.household_id for p in history} == {"demo"}
    assert all(p.sku in by_sku for p in history)
    assert all(p.quantity >= 1 for p in history)
    assert len(history) > 500


def test_regular_cycles(history):
    assert 30 <= _median_gap_days(history, ("TIDE-PODS", "PERSIL")) <= 50
    assert 15 <= _median_gap_days(history, ("CHARMIN", "COTTONELLE")) <= 26
    assert 10 <= _median_gap_days(history, ("PEETS-MAJOR-WB", "SBUX-PIKE-WB", "LAVAZZA")) <= 17
    assert 22 <= _median_gap_days(history, ("PPP-ADULT", "BLUE-LIFEPROT")) <= 34
    assert 5 <= _median_gap_days(history, ("HORIZON-WHOLE",)) <= 9
    assert 5 <= _median_gap_days(history, ("PAMPERS-SWAD",)) <= 9
    assert 160 <= _median_gap_days(history, ("EVERYDROP-F1",)) <= 200
    assert 90 <= _median_gap_days(history, ("HP-67XL-BLK",)) <= 150


def test_diapers_only_for_a_period_and_growing(history):
    diapers = [p for p in history if p.sku.startswith("PAMPERS-SWAD")]
    first, last = diapers[0].ordered_at, diapers[-1].ordered_at
    assert first - min(p.ordered_at for p in history) > timedelta(days=60)
    assert NOW - last > timedelta(days=60)
    sizes = [p.sku.split("-")[2] for p in diapers]
    assert sizes == sorted(sizes) and len(set(sizes)) == 3


def test_brand_loyalty_with_occasional_switch(history):
    detergent = Counter(p.sku for p in history if p.sku.startswith(("TIDE", "PERSIL")))
    assert detergent.most_common(1)[0][0] == "TIDE-PODS-ORIG-81"
    assert len(detergent) >= 2, "the odd switch (other brand or bigger pack) happens"
    lines = Counter(sku.rsplit("-", 1)[0] for sku in detergent.elements())
    assert lines["TIDE-PODS-ORIG"] / sum(lines.values()) >= 0.7
    coffee = [p.sku for p in history if "-WB-" in p.sku]
    early = Counter(sku.split("-")[0] for sku in coffee[:8]).most_common(1)[0][0]
    late = Counter(sku.split("-")[0] for sku in coffee[-8:]).most_common(1)[0][0]
    assert (early, late) == ("PEETS", "SBUX")  # a lasting switch part way through


def test_usual_quantities(history):
    towels = Counter(p.quantity for p in history if p.sku.startswith("BOUNTY"))
    assert towels.most_common(1)[0][0] == 2
    milk = Counter(p.quantity for p in history if p.sku.startswith("HORIZON"))
    assert milk.most_common(1)[0][0] == 2


def test_baskets_group_several_items(history):
    baskets = defaultdict(list)
    for p in history:
        baskets[p.order_ref].append(p)
    assert all(ref for ref in baskets)
    sizes = [len(lines) for lines in baskets.values()]
    assert statistics.median(sizes) >= 3
    assert max(sizes) >= 6
    for lines in baskets.values():
        assert len({p.ordered_at for p in lines}) == 1
        assert len({p.sku for p in lines}) == len(lines)


def test_history_length_and_naive_now(catalog):
    one_year = demo_history("h1", catalog, NOW, years=1.0)
    assert NOW - min(p.ordered_at for p in one_year) <= timedelta(days=367)
    naive = demo_history("h1", catalog, NOW.replace(tzinfo=None), years=1.0)
    assert naive == one_year


def test_history_skips_products_missing_from_catalog(catalog):
    small = [p for p in catalog if not p.sku.startswith("TIDE")]
    purchases = demo_history("h2", small, NOW)
    assert purchases and not any(p.sku.startswith("TIDE") for p in purchases)
