"""Keep the interaction model's ITEM slot type in step with the catalog.

Alexa recognises a custom slot best when the spoken words are among its values or synonyms. The hand-written
values in ``infra/skill-package/interactionModels/custom/en-US.json`` cover the common consumables; this module
adds what the catalog knows: each category leaf ("paper_towels" -> "paper towels") becomes a value, and
"brand + leaf" phrases and product synonyms become its synonyms. Hand-written entries are never removed or
reworded, only extended.
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
