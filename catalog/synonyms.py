"""Text normalisation shared by the catalog index and its queries.

Both sides go through the same ``normalize`` so that plurals, abbreviations and size noise line up;
query-only expansions (``expand_query``) add the words a shopper means but does not say.
"""
from __future__ import annotations

import re

_NON_ALNUM = re.compile(r"[^a-z0-9]+")

# Words that end in "s" but are not plurals: stripping them would create false matches.
_KEEP_S = frozenset(
    ["glass", "gas", "bus", "plus", "less", "chips", "swiss", "hummus", "citrus", "asparagus", "couscous", "molasses", "series", "species", "lens", "tennis", "analysis", "always", "this", "his", "is", "was", "yes", "news"]
)

# Whole-phrase synonyms applied to queries. Values are appended (not substituted) so that the
# literal words still count: "detergent" should also find a product literally called "detergent".
QUERY_SYNONYMS: dict[str, tuple[str, ...]] = {
    "tp": ("toilet paper", "bath tissue"),
    "toilet roll": ("toilet paper", "bath tissue"),
    "loo roll": ("toilet paper", "bath tissue"),
    "bath tissue": ("toilet paper",),
    "toilet paper": ("bath tissue",),
    "detergent": ("laundry detergent", "dishwasher detergent"),
    "washing powder": ("laundry detergent",),
    "dish soap": ("dishwashing liquid",),
    "paper towel": ("kitchen roll",),
    "kitchen roll": ("paper towel",),
    "pop": ("soda",),
    "soda": ("soft drink",),
    "nappy": ("diaper",),
    "diaper": ("nappy",),
    "tissue": ("facial tissue",),
    "oj": ("orange juice",),
    "pb": ("peanut butter",),
    "pod": ("pac",),
    "pac": ("pod",),
    "softener": ("fabric softener",),
    "tinfoil": ("aluminum foil",),
    "foil": ("aluminum foil",),
    "coke": ("coca cola",),
    "tea bag": ("tea",),
    "yoghurt": ("yogurt",),
    "bog roll": ("toilet paper",),
}

# Units and packaging words say nothing about *what* the product is.
SIZE_WORDS = frozenset(
    ["oz", "fl", "lb", "lbs", "g", "kg", "ml", "l", "ct", "count", "pk", "pack", "packs", "gal", "gallon", "qt", "pt", "each", "ea", "x", "roll", "rolls"]
)


def singular(word: str) -> str:
    """Crude English singular: good enough to make "bananas"/"banana" and "berries"/"berry" meet."""
    if len(word) <= 3 or word in _KEEP_S or not word.endswith("s"):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "zes", "ches", "shes", "oes")):
        return word[:-2]
    if word.endswith(("ss", "us", "is")):
        return word
    return word[:-1]


def tokens(text: str) -> list[str]:
    """Lower-cased, singularised word tokens of ``text``."""
    return [singular(w) for w in _NON_ALNUM.sub(" ", text.lower()).split()]


def normalize(text: str) -> str:
    return " ".join(tokens(text))


def expand_query(phrase: str) -> str:
    """The normalised phrase plus synonyms of any known sub-phrase (one or two words)."""
    words = tokens(phrase)
    extra: list[str] = []
    for n in (2, 1):
        for i in range(len(words) - n + 1):
            extra.extend(QUERY_SYNONYMS.get(" ".join(words[i : i + n]), ()))
    return " ".join(words + [normalize(e) for e in extra])


def head_phrases(title: str) -> tuple[str, str]:
    """The one-word and two-word phrases a shopper would likely say for a product title.

    English noun phrases put the head last ("organic almond milk" -> "milk", "almond milk"),
    so we take the trailing content words, skipping sizes and numbers. Either may be "".
    """
    words = [w for w in tokens(title) if not w.isdigit() and w not in SIZE_WORDS and len(w) > 1]
    one = words[-1] if words else ""
    two = " ".join(words[-2:]) if len(words) >= 2 else ""
    return one, two
