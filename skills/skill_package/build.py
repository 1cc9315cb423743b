"""Build the Alexa skill package (the ASK CLI ``skill-package`` layout) from data files and the catalog.

What the package holds, and where it comes from:

- ``skill.json``: ``data/skill.json``'s locale-independent manifest (permissions, events, privacy flags,
  category), plus per locale the publishing information of ``data/locales/<locale>.json``, the privacy and
  terms URLs, the endpoint with its certificate type, and the icons.
- ``interactionModels/custom/<locale>.json``: the intents and slots of ``data/skill.json`` (the same in every
  locale), the locale's sample utterances and hand-written ITEM values, and the catalog's category leaves
  merged in (``skills.model_sync``).
- ``assets/images/icon-108.png`` and ``icon-512.png``, referenced as ``file://assets/images/...``, which the
  ASK CLI uploads with the package.

A locale is a data file: ``extends`` names another locale file whose content it starts from, ``extraSamples``
and ``extraSynonyms`` add to it; every other key replaces the parent's.
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from catalog.model import Product
from skills import model_sync

DATA = Path(__file__).resolve().parent / "data"
LOCALES_DIR = DATA / "locales"
# The catalog is English: this locale's merged model gives every slot value its id, which other locales keep.
CATALOG_LOCALE = "en-US"
SMALL_ICON = "assets/images/icon-108.png"
LARGE_ICON = "assets/images/icon-512.png"
ICON_SIZES = {SMALL_ICON: 108, LARGE_ICON: 512}
MODEL_DIR = "interactionModels/custom"


@lru_cache(maxsize=1)
def skill_data() -> dict[str, Any]:
    return json.loads((DATA / "skill.json").read_text(encoding="utf-8"))


def available_locales() -> list[str]:
    return sorted(path.stem for path in LOCALES_DIR.glob("*.json"))


def _locale_file(code: str) -> dict[str, Any]:
    path = LOCALES_DIR / f"{code}.json"
    if not path.is_file():
        raise KeyError(code)
    return json.loads(path.read_text(encoding="utf-8"))


def load_locale(code: str, _seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """A locale's data with its ``extends`` chain applied."""
    if code in _seen:
        raise ValueError(f"locale files extend each other in a loop: {' -> '.join((*_seen, code))}")
    own = _locale_file(code)
    parent_code = own.get("extends")
    data = copy.deepcopy(load_locale(parent_code, (*_seen, code))) if parent_code else {}
    for key, value in own.items():
        if key not in ("extends", "extraSamples", "extraSynonyms"):
            data[key] = copy.deepcopy(value)
    intents = data.setdefault("intents", {})
    for intent, samples in own.get("extraSamples", {}).items():
        intents.setdefault(intent, []).extend(samples)
    items = {item["id"]: item for item in data.setdefault("items", [])}
    for ident, synonyms in own.get("extraSynonyms", {}).items():
        if ident not in items:
            raise ValueError(f"{code}.json: extraSynonyms names {ident!r}, which no item has as its id")
        items[ident].setdefault("synonyms", []).extend(synonyms)
    data["locale"] = code
    return data


def rules_for(code: str) -> dict[str, Any]:
    """The invocation rules of a locale, or of another locale in its language, or none."""
    candidates = [code] + [c for c in available_locales() if c.split("-")[0] == code.split("-")[0]]
    for candidate in candidates:
        try:
            rules = load_locale(candidate).get("invocationRules")
        except KeyError:
            continue
        if rules:
            return rules
    return {}


def _base_model(locale: dict[str, Any], invocation_name: str) -> dict[str, Any]:
    schema = skill_data()
    intents = []
    for declared in schema["intents"]:
        intent: dict[str, Any] = {"name": declared["name"]}
        if declared.get("slots"):
            intent["slots"] = copy.deepcopy(declared["slots"])
        intent["samples"] = list(dict.fromkeys(locale.get("intents", {}).get(declared["name"], [])))
        intents.append(intent)
    values = []
    for item in locale.get("items", []):
        name: dict[str, Any] = {"value": item["value"]}
        if item.get("synonyms"):
            name["synonyms"] = list(dict.fromkeys(item["synonyms"]))
        values.append({"id": item["id"], "name": name})
    return {"interactionModel": {"languageModel": {
        "invocationName": invocation_name,
        "intents": intents,
        "types": [{"name": schema["itemSlotType"], "values": values}],
    }}}


def _drop_claimed_synonyms(model: dict[str, Any]) -> None:
    """A synonym a locale file adds that another value already claims would map one phrase to two values."""
    seen: set[str] = set()
    for slot_type in model["interactionModel"]["languageModel"]["types"]:
        for entry in slot_type["values"]:
            seen.add(" ".join(entry["name"]["value"].casefold().split()))
        for entry in slot_type["values"]:
            kept = []
            for synonym in entry["name"].get("synonyms", []):
                key = " ".join(synonym.casefold().split())
                if key not in seen:
                    kept.append(synonym)
                    seen.add(key)
            if "synonyms" in entry["name"]:
                entry["name"]["synonyms"] = kept


def interaction_models(products: Iterable[Product], invocation_name: str,
                       locales: Sequence[str]) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(locale -> interaction model, locale -> what the catalog merge did)."""
    products = list(products)
    slot_type = skill_data()["itemSlotType"]
    reference = _base_model(load_locale(CATALOG_LOCALE), invocation_name)
    _drop_claimed_synonyms(reference)
    model_sync.merge_item_values(reference, products, slot_type=slot_type)
    ids = model_sync.value_ids(reference, slot_type=slot_type)
    models: dict[str, dict[str, Any]] = {}
    merges: dict[str, dict[str, Any]] = {}
    for code in locales:
        locale = load_locale(code)
        model = _base_model(locale, invocation_name)
        _drop_claimed_synonyms(model)
        if "catalogNames" in locale:
            merges[code] = model_sync.merge_translated_values(model, products, locale["catalogNames"], ids,
                                                              slot_type=slot_type)
        else:
            merges[code] = model_sync.merge_item_values(model, products, slot_type=slot_type)
        models[code] = model
    return models, merges


def _fill(text: str, invocation_name: str) -> str:
    return text.replace("{invocation}", invocation_name)


def manifest(locales: Sequence[str], *, endpoint: str, privacy_url: str, terms_url: str, invocation_name: str,
             ssl_certificate_type: str | None = None) -> dict[str, Any]:
    schema = skill_data()
    result = copy.deepcopy(schema["manifest"])
    publishing = result.setdefault("publishingInformation", {})
    privacy = result.setdefault("privacyAndCompliance", {})
    publishing["locales"], privacy["locales"] = {}, {}
    countries: list[str] = []
    for code in locales:
        locale = load_locale(code)
        info = copy.deepcopy(locale["publishing"])
        for key in ("name", "summary", "description", "updatesDescription"):
            if key in info:
                info[key] = _fill(info[key], invocation_name)
        info["examplePhrases"] = [_fill(p, invocation_name) for p in info.get("examplePhrases", [])]
        info["smallIconUri"] = f"file://{SMALL_ICON}"
        info["largeIconUri"] = f"file://{LARGE_ICON}"
        publishing["locales"][code] = info
        privacy["locales"][code] = {"privacyPolicyUrl": privacy_url, "termsOfUseUrl": terms_url}
        countries.extend(c for c in locale.get("distributionCountries", []) if c not in countries)
    if not publishing.get("isAvailableWorldwide"):
        publishing["distributionCountries"] = countries
    target = {"uri": endpoint}
    if not endpoint.startswith("arn:"):  # a Lambda function has no certificate of ours
        target["sslCertificateType"] = ssl_certificate_type or schema["sslCertificateType"]
    result.setdefault("apis", {}).setdefault("custom", {})["endpoint"] = dict(target)
    if "events" in result:
        result["events"]["endpoint"] = dict(target)
    return {"manifest": result}


@dataclass
class Package:
    """The package's files (path inside the package -> bytes) and what the catalog merge did per locale."""
    files: dict[str, bytes]
    merges: dict[str, dict[str, Any]] = field(default_factory=dict)

    def json(self, path: str) -> dict[str, Any]:
        return json.loads(self.files[path])


def _json_bytes(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def build_package(products: Iterable[Product], *, endpoint: str, privacy_url: str, terms_url: str,
                  icons: dict[int, bytes], invocation_name: str | None = None,
                  locales: Sequence[str] | None = None, ssl_certificate_type: str | None = None) -> Package:
    """The package in memory; ``icons`` maps 108 and 512 to PNG bytes (``skills.skill_package.icons``)."""
    invocation_name = invocation_name or skill_data()["defaultInvocationName"]
    locales = list(locales or available_locales())
    models, merges = interaction_models(products, invocation_name, locales)
    files = {"skill.json": _json_bytes(manifest(locales, endpoint=endpoint, privacy_url=privacy_url,
                                                terms_url=terms_url, invocation_name=invocation_name,
                                                ssl_certificate_type=ssl_certificate_type))}
    for code, model in models.items():
        files[f"{MODEL_DIR}/{code}.json"] = _json_bytes(model)
    files[SMALL_ICON] = icons[108]
    files[LARGE_ICON] = icons[512]
    return Package(files, merges)


def write_package(package: Package, out: str | os.PathLike[str]) -> Path:
    """Write the package to ``out``: staged beside it, then moved in, so a failure leaves ``out`` as it was.

    Files of an earlier package that this one no longer has (a locale dropped) are removed; anything else in
    ``out`` is left alone.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for relative, content in package.files.items():
            target = stage / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        out.mkdir(exist_ok=True)
        stale = out / MODEL_DIR
        if stale.is_dir():
            for old in stale.glob("*.json"):
                if f"{MODEL_DIR}/{old.name}" not in package.files:
                    old.unlink()
        for relative in package.files:
            target = out / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(stage / relative, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return out
