"""Per-product facts: catalog attributes as integer keys, and what all households together did.

Popularity and repurchase-interval priors are computed from training purchases only, so an
evaluation's held-out orders never leak into them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from catalog.model import Product
from catalog.synonyms import head_phrases, tokens

PRIOR_STRENGTH = 5.0  # pseudo-intervals pulling a sparse product's interval toward its aisle's
DEFAULT_INTERVAL = 14.0


def _codes(values: list[str]) -> np.ndarray:
    """Integer code per value; "" gets 0 so it can mean "unknown"."""
    table: dict[str, int] = {"": 0}
    return np.array([table.setdefault(v, len(table)) for v in values], dtype=np.int64)


def brand_key(p: Product) -> str:
    # Without a brand column (Instacart), the first title word is a fair proxy: it is usually the
    # brand, and when it is "Organic" a household's loyalty to it is just as real.
    if p.brand:
        return p.brand.lower()
    words = tokens(p.title)
    return words[0] if words else ""


@dataclass
class Attributes:
    brand: np.ndarray
    leaf: np.ndarray
    dept: np.ndarray
    size: np.ndarray
    head: np.ndarray
    head_words: dict[str, int]
    price: np.ndarray
    available: np.ndarray
    organic: np.ndarray | None = None  # "organic" in the title: a household's taste across categories
    leaf_words: list[frozenset] | None = None  # per leaf code: the words of the category's last segment

    def leaf_named(self, phrase: str) -> np.ndarray:
        """Per leaf code: 1 when the phrase *is* the category's name ("detergent" for .../laundry/detergent,
        not for .../dishwasher detergent), 0.5 when the name contains the phrase's words, else 0."""
        cache = self.__dict__.setdefault("_leaf_named", {})
        hit = cache.get(phrase)
        if hit is None:
            words = frozenset(tokens(phrase))
            lw = self.leaf_words or [frozenset()]
            hit = np.array([0.0 if not words or not w else 1.0 if w == words else 0.5 if words < w else 0.0
                            for w in lw])
            if len(cache) > 4096:
                cache.clear()
            cache[phrase] = hit
        return hit

    # sizes of the key spaces, for dense per-household tables (computed on first use)
    @property
    def n_brand(self) -> int:
        return self._n("brand")

    @property
    def n_leaf(self) -> int:
        return self._n("leaf")

    @property
    def n_dept(self) -> int:
        return self._n("dept")

    @property
    def n_size(self) -> int:
        return self._n("size")

    def _n(self, name: str) -> int:
        key = f"_n_{name}"
        if key not in self.__dict__:
            values = getattr(self, name)
            self.__dict__[key] = int(values.max()) + 1 if values.size else 1
        return self.__dict__[key]

    @classmethod
    def of(cls, products: list[Product]) -> Attributes:
        heads = [head_phrases(p.title)[0] for p in products]
        head_table: dict[str, int] = {"": 0}
        head = np.array([head_table.setdefault(h, len(head_table)) for h in heads], dtype=np.int64)
        leaf = _codes([p.category for p in products])
        leaf_words: list[frozenset] = [frozenset()] * (int(leaf.max()) + 1 if leaf.size else 1)
        for p, code in zip(products, leaf.tolist(), strict=False):
            if code and not leaf_words[code]:
                leaf_words[code] = frozenset(tokens(p.category.rsplit("/", 1)[-1]))
        return cls(
            brand=_codes([brand_key(p) for p in products]),
            leaf=leaf,
            dept=_codes([p.category.split("/", 1)[0] for p in products]),
            size=_codes([f"{p.category}|{p.size_label}" for p in products]),
            head=head, head_words=head_table,
            price=np.array([p.price_cents for p in products], dtype=np.float64),
            available=np.array([p.available for p in products], dtype=bool),
            leaf_words=leaf_words,
            organic=np.array(["organic" in tokens(p.title) for p in products], dtype=bool),
        )


@dataclass
class Usage:
    """Aggregate behaviour per product row."""

    lines: np.ndarray         # orders containing the product, over all households
    households: np.ndarray    # distinct households that bought it
    reorder: np.ndarray       # share of purchases that were repeats
    interval: np.ndarray      # pooled typical repurchase interval in days (shrunk toward the aisle)
    global_interval: float
    first: np.ndarray | None = None            # households whose first purchase in the product's category was it
    leaf_households: np.ndarray | None = None  # per category code: households that bought in it
    n_households: int = 0

    @classmethod
    def empty(cls, n: int) -> Usage:
        z = np.zeros(n)
        return cls(z, z, z, np.full(n, DEFAULT_INTERVAL), DEFAULT_INTERVAL, z, np.zeros(1), 0)

    @classmethod
    def of(cls, n: int, leaf: np.ndarray, hh: np.ndarray, rows: np.ndarray, days: np.ndarray) -> Usage:
        # One line per (household, product, day), in that order. Households and products travel as one
        # 64-bit key, and each temporary is freed as soon as it is used, so the peak stays near 40 bytes
        # a history line (33M lines at Instacart's size).
        key = hh.astype(np.int64)
        key *= n
        key += rows
        order = np.lexsort((days, key))
        key = key[order]
        d = days[order]
        del order
        keep = np.ones(key.size, bool)
        np.not_equal(key[1:], key[:-1], out=keep[1:])
        keep[1:] |= d[1:] != d[:-1]
        if not keep.all():
            key, d = key[keep], d[keep]
        del keep
        repeat = np.zeros(key.size, bool)
        np.equal(key[1:], key[:-1], out=repeat[1:])
        r = (key % n).astype(np.int32) if n else np.zeros(key.size, np.int32)
        lines = np.bincount(r, minlength=n).astype(np.float64)
        households = np.bincount(r[~repeat], minlength=n).astype(np.float64)
        gaps = np.log(np.maximum(np.diff(d, prepend=0.0)[repeat], 0.5))
        g_rows = r[repeat]
        del repeat
        glob = float(np.median(gaps)) if gaps.size else np.log(DEFAULT_INTERVAL)
        # two-level shrinkage in log space: product -> aisle -> everything
        leaf_n = np.bincount(leaf[g_rows], minlength=leaf.max() + 1 if leaf.size else 1)
        leaf_s = np.bincount(leaf[g_rows], weights=gaps, minlength=leaf_n.size)
        leaf_mu = (leaf_s + PRIOR_STRENGTH * glob) / (leaf_n + PRIOR_STRENGTH)
        p_n = np.bincount(g_rows, minlength=n)
        p_s = np.bincount(g_rows, weights=gaps, minlength=n)
        del gaps, g_rows
        mu = (p_s + PRIOR_STRENGTH * leaf_mu[leaf]) / (p_n + PRIOR_STRENGTH)
        with np.errstate(invalid="ignore", divide="ignore"):
            reorder = np.where(lines > 0, (lines - households) / np.maximum(lines, 1), 0.0)
        # cold start: what a household picks the first time it buys in a category, and how many
        # households buy in each category at all
        n_leaf = int(leaf.max()) + 1 if leaf.size else 1
        key //= max(n, 1)  # the household, in ascending order
        n_hh = int(np.count_nonzero(key[1:] != key[:-1])) + 1 if key.size else 0
        key *= n_leaf
        key += leaf.astype(np.int32)[r]
        order = np.lexsort((d, key))
        del d
        key = key[order]
        r = r[order]
        del order
        new = np.ones(key.size, bool)
        np.not_equal(key[1:], key[:-1], out=new[1:])
        first = np.bincount(r[new], minlength=n).astype(np.float64)
        leaf_hh = np.bincount(key[new] % n_leaf, minlength=n_leaf).astype(np.float64)
        return cls(lines, households, reorder, np.exp(mu), float(np.exp(glob)), first, leaf_hh, n_hh)
