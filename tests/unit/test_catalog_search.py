import pickle

import pytest

from catalog.model import Product
from catalog.search import CatalogIndex
from catalog.synonyms import expand_query, head_phrases, normalize

PRODUCTS = [
    Product("tide", "Tide Pods Original Laundry Detergent Pacs", "Tide", "household/laundry/detergent"),
    Product("cascade", "Cascade Platinum Dishwasher Detergent", "Cascade", "household/dish/detergent"),
    Product("charmin", "Charmin Ultra Soft Toilet Paper Mega Rolls", "Charmin", "household/paper/toilet paper"),
    Product("silk", "Silk Unsweetened Almond Milk", "Silk", "dairy/milk/almond milk"),
    Product("horizon", "Horizon Organic Whole Milk", "Horizon", "dairy/milk/milk"),
    Product("banana", "Organic Bananas", "", "produce/fruit/banana"),
    Product("bar", "Milk Chocolate Bar", "Hershey's", "snacks/candy/chocolate"),
]


@pytest.fixture(scope="module")
def index():
    return CatalogIndex.build(PRODUCTS)


def top(index, phrase):
    return index.search(phrase, k=3)[0].sku


def test_speech_slip_tide_pots_finds_tide_pods(index):
    assert top(index, "tide pots") == "tide"


def test_tp_means_toilet_paper(index):
    assert top(index, "TP") == "charmin"


def test_detergent_finds_laundry_and_dishwasher(index):
    assert {m.sku for m in index.search("detergent", k=2)} == {"tide", "cascade"}


def test_plural_and_singular_meet(index):
    assert top(index, "banana") == "banana"
    assert normalize("Berries Bananas") == "berry banana"


def test_two_words_prefer_exact_product(index):
    assert top(index, "almond milk") == "silk"


def test_scores_are_in_unit_interval_and_sorted(index):
    matches = index.search("milk", k=5)
    scores = [m.score for m in matches]
    assert scores == sorted(scores, reverse=True)
    assert all(0 < s <= 1 for s in scores)


def test_nonsense_returns_nothing(index):
    assert index.search("xqzv", k=5) == []


def test_index_is_picklable(index):
    clone = pickle.loads(pickle.dumps(index))
    assert top(clone, "tide pots") == "tide"


def test_query_expansion_and_head_phrases():
    assert "toilet paper" in expand_query("tp")
    assert head_phrases("Silk Unsweetened Almond Milk, 64 oz") == ("milk", "almond milk")
