"""Keep the interaction model's ITEM slot type in step with the catalog.

Alexa recognises a custom slot best when the spoken words are among its values or synonyms. The hand-written
values of each locale (``skills/skill_package/data/locales/<locale>.json``, "items") cover the common
consumables; this module adds what the catalog knows: each category leaf ("paper_towels" -> "paper towels")
becomes a value, and "brand + leaf" phrases and product synonyms become its synonyms. Hand-written entries are
never removed or reworded, only extended.

The catalog is English. A locale in another language names the catalog's category leaves in its own words
(``merge_translated_values``, with the locale's "catalogNames"); each value keeps the id the English model
gives it, so a resolved slot value means the same catalog entry in every locale.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from catalog.model import Product

DEFAULT_SLOT_TYPE = "ITEM"
# Well under Alexa's limits (tens of thousands of values, 140 characters each) but enough for a household
# catalog; a larger list mostly adds near-duplicates that hurt recognition rather than help it.
DEFAULT_MAX_VALUES = 500
DEFAULT_MAX_SYNONYMS = 30
MAX_PHRASE_CHARS = 140

_UNSPEAKABLE = re.compile(r"[^\w\s'.\-]+", re.UNICODE)


def spoken(text: str) -> str:
    """A phrase as Alexa should hear it: lower case, no underscores or symbols, single spaces."""
    text = _UNSPEAKABLE.sub(" ", text.replace("_", " ").replace("/", " ")).lower()
    text = " ".join(text.split())
    return text[:MAX_PHRASE_CHARS].strip()


def _key(text: str) -> str:
    return " ".join(text.casefold().split())


def _ident(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "item"


def _catalog_brands(products: Iterable[Product]) -> dict[str, list[str]]:
    """The spoken brands of each category leaf, in catalog order, without repeats."""
    brands: dict[str, list[str]] = {}
    for product in products:
        leaf = spoken(product.category_leaf)
        brand = spoken(product.brand)
        if leaf and brand and brand not in brands.setdefault(leaf, []):
            brands[leaf].append(brand)
    return brands


def _catalog_groups(products: Iterable[Product]) -> list[tuple[str, list[str]]]:
    """(value, synonyms) per category leaf, most-stocked categories first."""
    counts: Counter[str] = Counter()
    synonyms: dict[str, list[str]] = {}
    for product in products:
        leaf = spoken(product.category_leaf)
        own = [spoken(s) for s in product.synonyms]
        own = [s for s in own if s]
        if not leaf:
            if not own:
                continue
            leaf, own = own[0], own[1:]
        counts[leaf] += 1
        bucket = synonyms.setdefault(leaf, [])
        brand = spoken(product.brand)
        if brand and not leaf.startswith(brand):
            bucket.append(spoken(f"{brand} {leaf}"))
        bucket.extend(own)
    ordered = sorted(counts, key=lambda leaf: (-counts[leaf], leaf))
    return [(leaf, synonyms[leaf]) for leaf in ordered]


def _slot_type(model: dict[str, Any], name: str) -> dict[str, Any]:
    language_model = model.setdefault("interactionModel", {}).setdefault("languageModel", {})
    types = language_model.setdefault("types", [])
    for slot_type in types:
        if slot_type.get("name") == name:
            slot_type.setdefault("values", [])
            return slot_type
    slot_type = {"name": name, "values": []}
    types.append(slot_type)
    return slot_type


def merge_item_values(
    model: dict[str, Any],
    products: Iterable[Product],
    *,
    slot_type: str = DEFAULT_SLOT_TYPE,
    max_values: int = DEFAULT_MAX_VALUES,
    max_synonyms: int = DEFAULT_MAX_SYNONYMS,
) -> dict[str, int]:
    """Merge catalog-derived values into ``model`` in place; returns counts of what changed."""
    values = _slot_type(model, slot_type)["values"]
    seen: set[str] = set()  # every phrase already claimed by some value, so none maps to two values
    owner: dict[str, dict[str, Any]] = {}  # phrase -> the entry that claims it
    ids: set[str] = set()
    for entry in values:
        name = entry.setdefault("name", {})
        if entry.get("id"):
            ids.add(entry["id"])
        for phrase in [name.get("value", ""), *name.get("synonyms", [])]:
            if phrase:
                seen.add(_key(phrase))
                owner.setdefault(_key(phrase), entry)

    added_values = added_synonyms = 0
    for leaf, synonyms in _catalog_groups(products):
        entry = owner.get(_key(leaf))
        if entry is None:
            if len(values) >= max_values:
                continue
            ident = _ident(leaf)
            while ident in ids:
                ident += "_"
            ids.add(ident)
            entry = {"id": ident, "name": {"value": leaf, "synonyms": []}}
            values.append(entry)
            seen.add(_key(leaf))
            owner[_key(leaf)] = entry
            added_values += 1
        entry_synonyms = entry["name"].setdefault("synonyms", [])
        for synonym in synonyms:
            key = _key(synonym)
            if not key or key in seen or len(entry_synonyms) >= max_synonyms:
                continue
            entry_synonyms.append(synonym)
            seen.add(key)
            owner[key] = entry
            added_synonyms += 1
        if not entry_synonyms:
            del entry["name"]["synonyms"]
    return {"values": len(values), "added_values": added_values, "added_synonyms": added_synonyms}


def write_item_slot_values(
    path: str | os.PathLike[str],
    products: Iterable[Product],
    *,
    slot_type: str = DEFAULT_SLOT_TYPE,
    max_values: int = DEFAULT_MAX_VALUES,
    max_synonyms: int = DEFAULT_MAX_SYNONYMS,
) -> dict[str, int]:
    """Merge the catalog into the ITEM slot type of the interaction model at ``path`` and rewrite the file.

    Idempotent: a second run with the same products changes nothing. The file is replaced atomically.
    """
    path = Path(path)
    model = json.loads(path.read_text(encoding="utf-8"))
    summary = merge_item_values(model, products, slot_type=slot_type, max_values=max_values,
                                max_synonyms=max_synonyms)
    text = json.dumps(model, indent=2, ensure_ascii=False) + "\n"
    mode = path.stat().st_mode & 0o777
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return summary


def value_ids(model: dict[str, Any], *, slot_type: str = DEFAULT_SLOT_TYPE) -> dict[str, str]:
    """Every phrase of the slot type (value or synonym, case-folded) -> the id of the value that claims it."""
    ids: dict[str, str] = {}
    for entry in _slot_type(model, slot_type)["values"]:
        name = entry.get("name", {})
        for phrase in [name.get("value", ""), *name.get("synonyms", [])]:
            if phrase and entry.get("id"):
                ids.setdefault(_key(phrase), entry["id"])
    return ids


def merge_translated_values(
    model: dict[str, Any],
    products: Iterable[Product],
    names: dict[str, str],
    ids: dict[str, str],
    *,
    slot_type: str = DEFAULT_SLOT_TYPE,
    max_values: int = DEFAULT_MAX_VALUES,
    max_synonyms: int = DEFAULT_MAX_SYNONYMS,
) -> dict[str, Any]:
    """Merge the catalog into a model in another language than the catalog's, in place.

    ``names`` maps a spoken category leaf ("paper towels") to the locale's name for it ("küchenrolle"); ``ids``
    maps an English phrase to the id the English model gives it (``value_ids`` of the merged English model), so
    the value keeps that id here. Each leaf with a name adds the name (as a value, or as a synonym of the value
    with that id) and "brand + name" synonyms; the catalog's own synonyms are English and are not used. Leaves
    with no name are listed under "untranslated" and add nothing.
    """
    products = list(products)
    values = _slot_type(model, slot_type)["values"]
    seen: set[str] = set()
    by_id: dict[str, dict[str, Any]] = {}
    for entry in values:
        entry.setdefault("name", {})
        if entry.get("id"):
            by_id[entry["id"]] = entry
        for phrase in [entry["name"].get("value", ""), *entry["name"].get("synonyms", [])]:
            if phrase:
                seen.add(_key(phrase))
    folded = {_key(k): spoken(v) for k, v in names.items() if spoken(v)}
    brands = _catalog_brands(products)
    added_values = added_synonyms = 0
    untranslated: list[str] = []
    for leaf, _ in _catalog_groups(products):
        local = folded.get(_key(leaf))
        if not local:
            untranslated.append(leaf)
            continue
        ident = ids.get(_key(leaf)) or _ident(leaf)
        entry = by_id.get(ident)
        if entry is None:
            if len(values) >= max_values or _key(local) in seen:
                continue
            entry = {"id": ident, "name": {"value": local}}
            values.append(entry)
            by_id[ident] = entry
            seen.add(_key(local))
            added_values += 1
        synonyms = entry["name"].setdefault("synonyms", [])
        for synonym in [local, *(spoken(f"{brand} {local}") for brand in brands.get(leaf, []))]:
            key = _key(synonym)
            if not key or key in seen or len(synonyms) >= max_synonyms:
                continue
            synonyms.append(synonym)
            seen.add(key)
            added_synonyms += 1
        if not synonyms:
            del entry["name"]["synonyms"]
    return {"values": len(values), "added_values": added_values, "added_synonyms": added_synonyms,
            "untranslated": untranslated}
