"""The skill package is deployable as written, and the catalog merge into the ITEM slot type is safe."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from catalog.model import Product
from skills.model_sync import merge_item_values, spoken, write_item_slot_values

PACKAGE = Path(__file__).resolve().parents[2] / "infra" / "skill-package"
MODEL_PATH = PACKAGE / "interactionModels" / "custom" / "en-US.json"

CUSTOM_INTENTS = {
    "OrderItemIntent", "ReorderIntent", "CancelOrderIntent", "OrderStatusIntent", "RunningLowIntent",
    "SomethingElseIntent", "PinIntent",
}
BUILT_IN_INTENTS = {
    "AMAZON.YesIntent", "AMAZON.NoIntent", "AMAZON.HelpIntent", "AMAZON.StopIntent", "AMAZON.CancelIntent",
    "AMAZON.FallbackIntent", "AMAZON.NavigateHomeIntent",
}
# Sample utterances: words, apostrophes, periods for spoken letters, and {slot} references; no digits.
SAMPLE_RE = re.compile(r"^(?:[a-zA-Z][a-zA-Z'.]*|\{[A-Za-z_]+\})(?: (?:[a-zA-Z][a-zA-Z'.]*|\{[A-Za-z_]+\}))*$")


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads((PACKAGE / "skill.json").read_text(encoding="utf-8"))["manifest"]


@pytest.fixture(scope="module")
def language_model() -> dict:
    return json.loads(MODEL_PATH.read_text(encoding="utf-8"))["interactionModel"]["languageModel"]


def test_manifest_endpoint_permissions_and_events(manifest):
    assert manifest["manifestVersion"] == "1.0"
    endpoint = manifest["apis"]["custom"]["endpoint"]
    assert endpoint["uri"].startswith("https://") and endpoint["sslCertificateType"] == "Wildcard"
    assert {"name": "alexa::devices:all:notifications:write"} in manifest["permissions"]
    assert {"eventName": "AMAZON.OrderStatus.Updated"} in manifest["events"]["publications"]
    assert {"eventName": "SKILL_PROACTIVE_SUBSCRIPTION_CHANGED"} in manifest["events"]["subscriptions"]
    locale = manifest["publishingInformation"]["locales"]["en-US"]
    assert locale["name"] == "Replenish"
    assert locale["examplePhrases"][0].startswith("Alexa, open replenish")


def test_example_phrases_match_samples(manifest, language_model):
    samples = {s.lower() for i in language_model["intents"] for s in i.get("samples", [])}
    patterns = [re.compile("^" + re.sub(r"\\\{[a-z]+\\\}", r".+", re.escape(s)) + "$") for s in samples]
    for phrase in manifest["publishingInformation"]["locales"]["en-US"]["examplePhrases"][1:]:
        utterance = re.sub(r"^alexa, ask replenish (to )?", "", phrase.lower())
        assert any(p.match(utterance) for p in patterns), phrase


def test_invocation_name(language_model):
    assert language_model["invocationName"] == "replenish"


def test_all_intents_present(language_model):
    names = [intent["name"] for intent in language_model["intents"]]
    assert len(names) == len(set(names))
    assert set(names) == CUSTOM_INTENTS | BUILT_IN_INTENTS


def test_every_custom_intent_has_wellformed_samples(language_model):
    for intent in language_model["intents"]:
        if intent["name"] in BUILT_IN_INTENTS:
            continue
        samples = intent.get("samples", [])
        assert len(samples) >= 5, intent["name"]
        slot_names = {slot["name"] for slot in intent.get("slots", [])}
        used = set()
        for sample in samples:
            assert SAMPLE_RE.match(sample), f"{intent['name']}: {sample!r}"
            refs = set(re.findall(r"\{([A-Za-z_]+)\}", sample))
            assert refs <= slot_names, f"{intent['name']}: {sample!r} uses an undeclared slot"
            used |= refs
        assert used == slot_names, f"{intent['name']}: declared slots never used in a sample"


def test_samples_are_unique_across_intents(language_model):
    owner: dict[str, str] = {}
    for intent in language_model["intents"]:
        for sample in intent.get("samples", []):
            key = sample.lower()
            assert key not in owner, f"{sample!r} in both {owner[key]} and {intent['name']}"
            owner[key] = intent["name"]


def test_slot_types_exist(language_model):
    custom_types = {t["name"] for t in language_model.get("types", [])}
    for intent in language_model["intents"]:
        for slot in intent.get("slots", []):
            assert slot["type"].startswith("AMAZON.") or slot["type"] in custom_types, slot


def test_expected_slots(language_model):
    slots = {i["name"]: {s["name"]: s["type"] for s in i.get("slots", [])} for i in language_model["intents"]}
    assert slots["OrderItemIntent"] == {"item": "ITEM", "quantity": "AMAZON.NUMBER"}
    assert slots["PinIntent"] == {"pin": "AMAZON.FOUR_DIGIT_NUMBER"}
    assert slots["CancelOrderIntent"] == {"item": "ITEM"}


def test_item_type_values_are_unique_and_cover_the_basics(language_model):
    [item] = [t for t in language_model["types"] if t["name"] == "ITEM"]
    assert len(item["values"]) >= 40
    phrases = []
    ids = []
    for value in item["values"]:
        ids.append(value["id"])
        phrases.append(value["name"]["value"].lower())
        phrases.extend(s.lower() for s in value["name"].get("synonyms", []))
    assert len(ids) == len(set(ids))
    assert len(phrases) == len(set(phrases)), "a phrase maps to two values"
    by_value = {v["name"]["value"]: v["name"].get("synonyms", []) for v in item["values"]}
    for needed in ("detergent", "dishwasher pods", "paper towels", "toilet paper", "coffee", "coffee pods",
                   "dog food", "cat litter", "diapers", "wipes", "shampoo", "toothpaste", "trash bags",
                   "water filter", "printer ink", "milk", "almond milk", "batteries"):
        assert needed in by_value, needed
    assert "TP" in by_value["toilet paper"]


# -- model_sync ------------------------------------------------------------------------------------------------


PRODUCTS = [
    Product("SKU-1", "Tide Original 92 oz", brand="Tide", category="household/laundry/detergent",
            synonyms=("laundry soap", "Tide pods")),
    Product("SKU-2", "Bounty Select-a-Size", brand="Bounty", category="household/paper/paper_towels",
            synonyms=("Kitchen Roll",)),
    Product("SKU-3", "Brita Standard Filter", brand="Brita", category="kitchen/filters/pitcher_filters",
            synonyms=("brita filter",)),
    Product("SKU-4", "Brita Longlast Filter", brand="Brita", category="kitchen/filters/pitcher_filters"),
    Product("SKU-5", "Kleenex Ultra Soft", brand="Kleenex", category="household/paper/tissues"),
    Product("SKU-6", "Mystery Item", brand="", category="", synonyms=("gizmo refill",)),
    Product("SKU-7", "Seventh Generation Detergent", brand="Seventh Generation",
            category="household/laundry/detergent", synonyms=("eco detergent!",)),
]


@pytest.fixture()
def model_copy(tmp_path) -> Path:
    path = tmp_path / "en-US.json"
    shutil.copy(MODEL_PATH, path)
    return path


def item_values(path: Path) -> dict[str, dict]:
    model = json.loads(path.read_text(encoding="utf-8"))
    [item] = [t for t in model["interactionModel"]["languageModel"]["types"] if t["name"] == "ITEM"]
    return {v["name"]["value"]: v for v in item["values"]}


def test_spoken_form():
    assert spoken("paper_towels") == "paper towels"
    assert spoken("  Tide   PODS® ") == "tide pods"
    assert spoken("K-Cups") == "k-cups"


def test_write_item_slot_values_merges_without_losing_hand_written_values(model_copy):
    before = item_values(model_copy)
    summary = write_item_slot_values(model_copy, PRODUCTS)
    after = item_values(model_copy)

    for value, entry in before.items():  # nothing removed or reworded
        assert value in after
        assert after[value]["id"] == entry["id"]
        assert after[value]["name"].get("synonyms", [])[: len(entry["name"].get("synonyms", []))] == \
            entry["name"].get("synonyms", [])

    detergent = after["detergent"]["name"]["synonyms"]
    assert "tide detergent" in detergent and "seventh generation detergent" in detergent
    assert "tide pods" in detergent and "eco detergent" in detergent
    assert detergent.count("laundry soap") == 1  # already hand-written
    assert "bounty paper towels" in after["paper towels"]["name"]["synonyms"]
    assert after["paper towels"]["name"]["synonyms"].count("kitchen roll") == 1  # hand-written, not doubled

    # "tissues" is a hand-written synonym of "facial tissues": extend that entry, don't add a rival value.
    assert "tissues" not in after
    assert "kleenex tissues" in after["facial tissues"]["name"]["synonyms"]

    assert after["pitcher filters"]["id"] == "pitcher_filters"
    assert after["pitcher filters"]["name"]["synonyms"] == ["brita pitcher filters", "brita filter"]
    assert "gizmo refill" in after  # product with no category: its first synonym stands in

    assert summary["added_values"] == 2
    assert summary["values"] == len(before) + 2

    phrases = [p.lower() for e in after.values() for p in [e["name"]["value"], *e["name"].get("synonyms", [])]]
    assert len(phrases) == len(set(phrases))


def test_write_item_slot_values_is_idempotent(model_copy):
    write_item_slot_values(model_copy, PRODUCTS)
    once = model_copy.read_text(encoding="utf-8")
    summary = write_item_slot_values(model_copy, PRODUCTS)
    assert summary["added_values"] == 0 and summary["added_synonyms"] == 0
    assert model_copy.read_text(encoding="utf-8") == once
    json.loads(once)  # still valid JSON


def test_caps_apply_to_additions_only():
    model = {"interactionModel": {"languageModel": {"types": [
        {"name": "ITEM", "values": [{"id": "milk", "name": {"value": "milk", "synonyms": ["a", "b", "c"]}}]}]}}}
    products = [Product(f"S{i}", f"P{i}", brand=f"brand{i}", category=f"food/cat{i % 5}") for i in range(40)] + [
        Product("M", "Milk", brand="Dairy", category="food/milk", synonyms=("moo juice",))]
    summary = merge_item_values(model, products, max_values=3, max_synonyms=3)
    values = model["interactionModel"]["languageModel"]["types"][0]["values"]
    assert [v["name"]["value"] for v in values] == ["milk", "cat0", "cat1"]
    assert values[0]["name"]["synonyms"] == ["a", "b", "c"]  # already at cap: nothing added, nothing dropped
    assert all(len(v["name"].get("synonyms", [])) <= 3 for v in values)
    assert summary == {"values": 3, "added_values": 2, "added_synonyms": 6}


def test_missing_slot_type_is_created():
    model = {"interactionModel": {"languageModel": {"invocationName": "replenish", "intents": []}}}
    merge_item_values(model, PRODUCTS[:1])
    [item] = model["interactionModel"]["languageModel"]["types"]
    assert item["name"] == "ITEM"
    assert item["values"][0]["name"] == {"value": "detergent",
                                         "synonyms": ["tide detergent", "laundry soap", "tide pods"]}
