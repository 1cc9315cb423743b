"""Trained recommenders shared by the unit tests of one session (training is the slow part of them).

A plain cache rather than a session fixture: test modules ask for the model by what it is trained on,
and the same request gets the same fitted object however many modules ask for it. Tests only read it
(clearing its caches is fine: they rebuild themselves)."""
from __future__ import annotations

import functools
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta

from catalog.instacart import read_products, read_purchases
from catalog.model import Product
from replenish.domain.history import Purchase
from replenish.recommend import Recommender
from replenish.recommend.synth import generate


@dataclass(frozen=True)
class Fitted:
    products: list[Product]
    purchases: list[Purchase]
    by_hh: dict[str, list[Purchase]]
    rec: Recommender
    stages: list[tuple[str, float]]  # what fit reported, in order


@functools.cache
def synth_model(households: int, seed: int, now: datetime, anchor_days_before: float = 2.0) -> Fitted:
    d = tempfile.mkdtemp(prefix="rpl_synth_")
    try:
        generate(households, d, seed=seed)
        products = list(read_products(d))
        purchases = list(read_purchases(d, anchor=now - timedelta(days=anchor_days_before)))
    finally:
        shutil.rmtree(d, ignore_errors=True)
    by_hh: dict[str, list[Purchase]] = {}
    for p in purchases:
        by_hh.setdefault(p.household_id, []).append(p)
    stages: list[tuple[str, float]] = []
    rec = Recommender.fit(products, purchases, now=now, progress=lambda s, f: stages.append((s, f)))
    return Fitted(products, purchases, by_hh, rec, stages)
