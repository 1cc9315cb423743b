"""The skill package the command builds passes Amazon's documented rules in every locale, the validator catches
each rule broken, and the catalog merge into the ITEM slot type is safe."""
from __future__ import annotations

import copy
import io
import json
import re
import shutil
from pathlib import Path

import pytest
from PIL import Image

from catalog.demo import demo_catalog
from catalog.model import Product
from skills.model_sync import merge_item_values, merge_translated_values, spoken, value_ids, write_item_slot_values
from skills.skill_package import build, validate
from skills.skill_package.icons import generated_icons

LOCALES = ("de-DE", "en-GB", "en-US")
CUSTOM_INTENTS = {
    "OrderItemIntent", "ReorderIntent", "CancelOrderIntent", "OrderStatusIntent", "RunningLowIntent",
    "SomethingElseIntent", "PinIntent",
    "AddToListIntent", "ListIntent", "OrderListIntent", "RemoveFromListIntent",
}
CUSTOM_INTENTS |= {"ApprovalsIntent"}  # members and approvals
CUSTOM_INTENTS |= {"DigestIntent"}  # the weekly digest, asked for
BUILT_IN_INTENTS = {
    "AMAZON.YesIntent", "AMAZON.NoIntent", "AMAZON.HelpIntent", "AMAZON.StopIntent", "AMAZON.CancelIntent",
    "AMAZON.FallbackIntent", "AMAZON.NavigateHomeIntent",
}
ENDPOINT = "https://replenish.shop/alexa"
PRIVACY = "https://replenish.shop/privacy"
TERMS = "https://replenish.shop/terms"


@pytest.fixture(scope="module")
def icons() -> dict[int, bytes]:
    return generated_icons()


@pytest.fixture(scope="module")
def package(icons) -> build.Package:
    return build.build_package(demo_catalog(), endpoint=ENDPOINT, privacy_url=PRIVACY, terms_url=TERMS, icons=icons)


def model(package: build.Package, locale: str) -> dict:
    return package.json(f"interactionModels/custom/{locale}.json")["interactionModel"]["languageModel"]


def manifest_of(package: build.Package) -> dict:
    return package.json("skill.json")["manifest"]


def broken(package: build.Package, path: str, change) -> list[str]:
    """The validator's findings after ``change`` edits one JSON file of a copy of the package."""
    files = dict(package.files)
    document = json.loads(files[path])
    change(document)
    files[path] = json.dumps(document).encode()
    return validate.problems(files)


# -- the built package -----------------------------------------------------------------------------------------


def test_built_package_passes_the_validator_in_every_locale(package):
    assert sorted(p.split("/")[-1][:-5] for p in package.files if p.startswith("interactionModels/")) == \
        list(LOCALES)
    assert validate.problems(package.files) == []


def test_manifest_endpoint_privacy_permissions_and_events(package):
    manifest = manifest_of(package)
    assert manifest["manifestVersion"] == "1.0"
    assert manifest["apis"]["custom"]["endpoint"] == {"uri": ENDPOINT, "sslCertificateType": "Wildcard"}
    assert manifest["events"]["endpoint"] == {"uri": ENDPOINT, "sslCertificateType": "Wildcard"}
    assert {"name": "alexa::devices:all:notifications:write"} in manifest["permissions"]
    assert {"eventName": "AMAZON.OrderStatus.Updated"} in manifest["events"]["publications"]
    assert {"eventName": "SKILL_PROACTIVE_SUBSCRIPTION_CHANGED"} in manifest["events"]["subscriptions"]
    assert {"eventName": "SKILL_ACCOUNT_LINKED"} in manifest["events"]["subscriptions"]
    privacy = manifest["privacyAndCompliance"]
    assert privacy["usesPersonalInfo"] is True and privacy["allowsPurchases"] is True
    assert privacy["locales"] == {code: {"privacyPolicyUrl": PRIVACY, "termsOfUseUrl": TERMS} for code in LOCALES}
    publishing = manifest["publishingInformation"]
    assert set(publishing["locales"]) == set(LOCALES)
    assert {"US", "GB", "DE"} <= set(publishing["distributionCountries"])
    assert "example.invalid" not in json.dumps(manifest)


def test_icons_are_in_the_package_at_the_sizes_alexa_needs(package):
    for code in LOCALES:
        info = manifest_of(package)["publishingInformation"]["locales"][code]
        for key, size in (("smallIconUri", 108), ("largeIconUri", 512)):
            path = info[key].removeprefix("file://")
            with Image.open(io.BytesIO(package.files[path])) as image:
                assert (image.format, image.size) == ("PNG", (size, size))


def test_default_invocation_name_is_two_words_and_used_everywhere(package):
    for code in LOCALES:
        assert model(package, code)["invocationName"] == "home replenish"
        phrases = manifest_of(package)["publishingInformation"]["locales"][code]["examplePhrases"]
        assert all("home replenish" in phrase for phrase in phrases)
    assert validate.invocation_problems("home replenish") == []


def test_every_locale_has_the_same_intents_slots_and_slot_types(package):
    def shape(code):
        m = model(package, code)
        return ({i["name"]: sorted((s["name"], s["type"]) for s in i.get("slots", [])) for i in m["intents"]},
                sorted(t["name"] for t in m["types"]))

    reference = shape("en-US")
    assert set(reference[0]) == CUSTOM_INTENTS | BUILT_IN_INTENTS
    assert reference[0]["OrderItemIntent"] == [("item", "ITEM"), ("quantity", "AMAZON.NUMBER")]
    assert reference[0]["PinIntent"] == [("pin", "AMAZON.FOUR_DIGIT_NUMBER")]
    assert reference[0]["CancelOrderIntent"] == [("item", "ITEM")]
    for code in LOCALES:
        assert shape(code) == reference, code


def test_samples_are_unique_well_formed_and_name_declared_slots(package):
    for code in LOCALES:
        owner: dict[str, str] = {}
        for intent in model(package, code)["intents"]:
            slots = {s["name"] for s in intent.get("slots", [])}
            used = set()
            if intent["name"] in CUSTOM_INTENTS:
                assert len(intent["samples"]) >= 5, (code, intent["name"])
            for sample in intent.get("samples", []):
                assert validate.SAMPLE_RE.match(sample), (code, sample)
                assert not re.search(r"\d", sample), (code, sample)
                refs = set(re.findall(r"\{(\w+)\}", sample))
                assert refs <= slots, (code, sample)
                used |= refs
                key = sample.casefold()
                assert key not in owner, f"{code}: {sample!r} in {owner.get(key)} and {intent['name']}"
                owner[key] = intent["name"]
            assert used == slots, (code, intent["name"], "a declared slot no sample uses")


def test_german_model_is_german(package):
    de = {i["name"]: i.get("samples", []) for i in model(package, "de-DE")["intents"]}
    assert "bestelle {item}" in de["OrderItemIntent"]
    assert "wo ist meine bestellung" in de["OrderStatusIntent"]
    assert "storniere meine bestellung" in de["CancelOrderIntent"]
    assert "was geht zur neige" in de["RunningLowIntent"]
    assert "meine pin ist {pin}" in de["PinIntent"]
    assert "ja bitte" in de["AMAZON.YesIntent"]
    english = {s for i in model(package, "en-US")["intents"] for s in i.get("samples", []) if "{" not in s}
    assert not english & {s for samples in de.values() for s in samples}


def test_item_values_keep_their_ids_in_every_locale(package):
    def values(code):
        [item] = [t for t in model(package, code)["types"] if t["name"] == "ITEM"]
        return {v["id"]: v["name"] for v in item["values"]}

    us, gb, de = values("en-US"), values("en-GB"), values("de-DE")
    assert set(de) == set(us) == set(gb)
    assert us["paper_towels"]["value"] == "paper towels" and de["paper_towels"]["value"] == "küchenrolle"
    assert "kitchen roll" in gb["paper_towels"]["synonyms"]
    assert "bog roll" in gb["toilet_paper"]["synonyms"]
    assert "tide detergent" in us["detergent"]["synonyms"] and "tide waschmittel" in de["detergent"]["synonyms"]
    assert us["cereal"]["value"] == "cereal" and de["cereal"]["value"] == "müsli"  # from the catalog only
    for code, by_id in (("en-US", us), ("en-GB", gb), ("de-DE", de)):
        phrases = [p.casefold() for n in by_id.values() for p in [n["value"], *n.get("synonyms", [])]]
        assert len(phrases) == len(set(phrases)), f"{code}: a phrase maps to two values"


def test_a_catalog_category_without_a_german_name_is_reported_not_guessed(icons):
    products = [Product("W1", "Gizmo Wax 2 oz", brand="Shiny", category="household/care/gizmo_wax")]
    made = build.build_package(products, endpoint=ENDPOINT, privacy_url=PRIVACY, terms_url=TERMS, icons=icons)
    assert made.merges["de-DE"]["untranslated"] == ["gizmo wax"]
    assert "gizmo wax" in json.dumps(made.json("interactionModels/custom/en-US.json"))
    assert "gizmo" not in json.dumps(made.json("interactionModels/custom/de-DE.json"))
    assert validate.problems(made.files) == []


def test_a_locale_is_a_data_file(tmp_path, monkeypatch, icons):
    locales = tmp_path / "locales"
    shutil.copytree(build.LOCALES_DIR, locales)
    au = json.loads((locales / "en-GB.json").read_text(encoding="utf-8"))
    au.update({"locale": "en-AU", "distributionCountries": ["AU"]})
    au["extraSamples"] = {"OrderItemIntent": ["chuck in some {item}"]}
    (locales / "en-AU.json").write_text(json.dumps(au), encoding="utf-8")
    monkeypatch.setattr(build, "LOCALES_DIR", locales)

    made = build.build_package([], endpoint=ENDPOINT, privacy_url=PRIVACY, terms_url=TERMS, icons=icons)
    assert validate.problems(made.files) == []
    au_model = made.json("interactionModels/custom/en-AU.json")["interactionModel"]["languageModel"]
    order = next(i for i in au_model["intents"] if i["name"] == "OrderItemIntent")
    assert "chuck in some {item}" in order["samples"] and "order {item}" in order["samples"]
    assert "AU" in made.json("skill.json")["manifest"]["publishingInformation"]["distributionCountries"]


# -- the validator finds each broken rule ---------------------------------------------------------------------


US_MODEL = "interactionModels/custom/en-US.json"


def _intent(document, name):
    return next(i for i in document["interactionModel"]["languageModel"]["intents"] if i["name"] == name)


@pytest.mark.parametrize("path, change, expected", [
    ("skill.json", lambda d: d["manifest"]["apis"]["custom"]["endpoint"].update(uri="http://replenish.shop/alexa"),
     "apis.custom.endpoint.uri: 'http://replenish.shop/alexa' is not an https URL"),
    ("skill.json", lambda d: d["manifest"]["apis"]["custom"]["endpoint"].update(uri="https://example.invalid/a"),
     "placeholder or local host"),
    ("skill.json", lambda d: d["manifest"]["apis"]["custom"]["endpoint"].update(sslCertificateType="Cheap"),
     "apis.custom.endpoint.sslCertificateType"),
    ("skill.json", lambda d: d["manifest"]["privacyAndCompliance"]["locales"]["de-DE"].pop("privacyPolicyUrl"),
     "privacyAndCompliance.locales.de-DE.privacyPolicyUrl: missing"),
    ("skill.json", lambda d: d["manifest"]["privacyAndCompliance"]["locales"]["en-GB"].update(
        termsOfUseUrl="http://replenish.shop/terms"), "locales.en-GB.termsOfUseUrl"),
    ("skill.json", lambda d: d["manifest"]["publishingInformation"]["locales"]["en-US"].pop("summary"),
     "locales.en-US.summary: required"),
    ("skill.json", lambda d: d["manifest"]["publishingInformation"].pop("testingInstructions"),
     "testingInstructions: required"),
    ("skill.json", lambda d: d["manifest"]["publishingInformation"]["locales"]["en-US"].update(
        smallIconUri="file://assets/images/icon-512.png"), "smallIconUri: file://assets/images/icon-512.png must be"),
    ("skill.json", lambda d: d["manifest"]["publishingInformation"]["locales"]["en-US"]["examplePhrases"].append(
        "Alexa, ask home replenish to sing a song"), "examplePhrases[3]"),
    ("skill.json", lambda d: d["manifest"]["publishingInformation"]["locales"]["de-DE"].update(
        examplePhrases=["Alexa, öffne home replenish", "Alexa, frage home replenish, singe ein lied"]),
     "examplePhrases[1]"),
    (US_MODEL, lambda d: d["interactionModel"]["languageModel"].update(invocationName="replenish"), "is one word"),
    (US_MODEL, lambda d: d["interactionModel"]["languageModel"].update(invocationName="open replenish"),
     "launch or connecting word 'open'"),
    (US_MODEL, lambda d: _intent(d, "ReorderIntent")["samples"].append("order {item}"),
     "sample 'order {item}' is not unique (also in OrderItemIntent)"),
    (US_MODEL, lambda d: _intent(d, "ReorderIntent")["samples"].append("reorder {item}"),
     "uses {item}, which is not a slot of this intent"),
    (US_MODEL, lambda d: _intent(d, "OrderItemIntent")["samples"].append("order {item} and {item}"),
     "uses {item} more than once"),
    (US_MODEL, lambda d: _intent(d, "OrderItemIntent")["samples"].append("order 2 {item}"), "spell numbers out"),
    (US_MODEL, lambda d: _intent(d, "OrderItemIntent")["samples"].append("order " + "very " * 40 + "{item}"),
     "is over 200 characters"),
    (US_MODEL, lambda d: _intent(d, "OrderItemIntent")["slots"][0].update(type="PRODUCT"),
     "has type PRODUCT, which is neither defined nor built in"),
    (US_MODEL, lambda d: d["interactionModel"]["languageModel"]["intents"].remove(_intent(d, "AMAZON.StopIntent")),
     "required built-in intent AMAZON.StopIntent is missing"),
    (US_MODEL, lambda d: _intent(d, "RunningLowIntent").update(samples=[]), "a custom intent needs sample"),
    (US_MODEL, lambda d: _intent(d, "CancelOrderIntent")["samples"].append("cancel"),
     "sample 'cancel' is what a built-in intent answers"),
    ("interactionModels/custom/de-DE.json", lambda d: _intent(d, "CancelOrderIntent")["samples"].append("abbrechen"),
     "sample 'abbrechen' is what a built-in intent answers"),
    (US_MODEL, lambda d: d["interactionModel"]["languageModel"]["types"][0]["values"][1]["name"]["synonyms"]
     .append("laundry soap"), "'laundry soap' belongs to both"),
])
def test_validator_names_each_broken_rule(package, path, change, expected):
    found = broken(package, path, change)
    assert any(expected in problem for problem in found), found


def test_validator_finds_locales_that_differ(package):
    found = broken(package, "interactionModels/custom/de-DE.json",
                   lambda d: d["interactionModel"]["languageModel"]["intents"].remove(_intent(d, "ReorderIntent")))
    assert any("differ from" in p for p in found), found


def test_validator_finds_missing_model_and_icon(package):
    files = dict(package.files)
    del files["interactionModels/custom/en-GB.json"]
    del files["assets/images/icon-108.png"]
    found = validate.problems(files)
    assert "interactionModels/custom/en-GB.json: missing" in found
    assert any("file://assets/images/icon-108.png is not in the package" in p for p in found)


@pytest.mark.parametrize("name, expected", [
    ("replenish", "is one word"),
    ("open replenish", "'open'"),
    ("ask replenish now", "'ask'"),
    ("alexa shopping list", "'alexa'"),
    ("amazon restock", "'amazon'"),
    ("replenish app", "'app'"),
    ("restock skill", "'skill'"),
    ("echo restock", "'echo'"),
    ("the replenisher", "two words, one an article"),
    ("Home Replenish", "lower-case letters"),
    ("home replenish two thousand", None),
    ("home replenish 2", "spell numbers out"),
    ("home_replenish shop", "lower-case letters"),
    ("starte einkauf", "'starte' (de-DE)"),
    ("frag den vorrat", "'frag' (de-DE)"),
    ("sam's home restock", None),
    ("home replenish", None),
])
def test_invocation_name_rules(name, expected):
    found = validate.invocation_problems(name)
    if expected is None:
        assert found == []
    else:
        assert any(expected in problem for problem in found), found


@pytest.mark.parametrize("url, expected", [
    ("https://replenish.shop/alexa", None),
    ("https://replenish.shop:443/alexa", None),
    ("http://replenish.shop/alexa", "not an https URL"),
    ("https://example.invalid/alexa", "placeholder"),
    ("https://api.example.com/alexa", "placeholder"),
    ("https://localhost/alexa", "placeholder"),
    ("https://127.0.0.1/alexa", "private or local"),
    ("https://10.1.2.3/alexa", "private or local"),
    ("https://replenish.shop:8443/alexa", "port 443 only"),
    ("https:///alexa", "no host"),
    ("replenish.shop/alexa", "not an https URL"),
])
def test_url_rules(url, expected):
    problem = validate.url_problem(url)
    assert problem is None if expected is None else expected in problem, problem


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


def hand_written(code: str = "en-US") -> dict:
    """The locale's model before any catalog merge: its hand-written values only."""
    model = build._base_model(build.load_locale(code), "home replenish")
    build._drop_claimed_synonyms(model)
    return model


@pytest.fixture()
def model_copy(tmp_path) -> Path:
    path = tmp_path / "en-US.json"
    path.write_text(json.dumps(hand_written(), indent=2), encoding="utf-8")
    return path


def item_values(path: Path) -> dict[str, dict]:
    model = json.loads(path.read_text(encoding="utf-8"))
    [item] = [t for t in model["interactionModel"]["languageModel"]["types"] if t["name"] == "ITEM"]
    return {v["name"]["value"]: v for v in item["values"]}


def test_hand_written_values_cover_the_basics():
    [item] = hand_written()["interactionModel"]["languageModel"]["types"]
    by_value = {v["name"]["value"]: v["name"].get("synonyms", []) for v in item["values"]}
    assert len(by_value) >= 40
    for needed in ("detergent", "dishwasher pods", "paper towels", "toilet paper", "coffee", "coffee pods",
                   "dog food", "cat litter", "diapers", "wipes", "shampoo", "toothpaste", "trash bags",
                   "water filter", "printer ink", "milk", "almond milk", "batteries"):
        assert needed in by_value, needed
    assert "TP" in by_value["toilet paper"]


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
    model = {"interactionModel": {"languageModel": {"invocationName": "home replenish", "intents": []}}}
    merge_item_values(model, PRODUCTS[:1])
    [item] = model["interactionModel"]["languageModel"]["types"]
    assert item["name"] == "ITEM"
    assert item["values"][0]["name"] == {"value": "detergent",
                                         "synonyms": ["tide detergent", "laundry soap", "tide pods"]}


def test_translated_merge_keeps_english_ids_and_adds_brand_phrases():
    english = hand_written("en-US")
    merge_item_values(english, PRODUCTS)
    ids = value_ids(english)
    german = hand_written("de-DE")
    before = copy.deepcopy(german)
    summary = merge_translated_values(german, PRODUCTS, {"detergent": "Waschmittel", "paper towels": "Küchenrolle",
                                                         "pitcher filters": "Filterkartuschen"}, ids)
    values = {v["id"]: v["name"] for v in german["interactionModel"]["languageModel"]["types"][0]["values"]}
    assert values["detergent"]["value"] == "waschmittel"  # hand-written, not reworded
    assert "tide waschmittel" in values["detergent"]["synonyms"]
    assert "seventh generation waschmittel" in values["detergent"]["synonyms"]
    assert "laundry soap" not in json.dumps(values)  # the catalog's English synonyms stay out
    assert values["pitcher_filters"] == {"value": "filterkartuschen", "synonyms": ["brita filterkartuschen"]}
    assert summary["untranslated"] == ["gizmo refill", "tissues"]  # no German name: left out, listed
    assert summary["added_values"] == 1
    merge_translated_values(german, PRODUCTS, {"detergent": "Waschmittel"}, ids)  # idempotent
    again = {v["id"]: v["name"] for v in german["interactionModel"]["languageModel"]["types"][0]["values"]}
    assert again == values
    assert len(before["interactionModel"]["languageModel"]["types"][0]["values"]) + 1 == len(values)
