"""`replenish recommend train` reads the history from PostgreSQL in streamed batches into numpy arrays (a
server-side cursor: one batch of rows in memory at a time); it gives the same history (and the same trained
model) as reading Purchase objects."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from replenish.adapters.purchase_arrays import purchase_chunks
from replenish.bootstrap import bootstrap
from replenish.config import Settings
from replenish.domain.history import Purchase
from replenish.importers import store_purchases
from replenish.recommend.training import History, StoredHistory
from tests.conftest import PRODUCTS
from tests.doubles import RecordingQueue

pytestmark = pytest.mark.integration
T0 = datetime(2025, 1, 6, 9, 30, tzinfo=UTC)


def _purchases() -> list[Purchase]:
    skus = [p.sku for p in PRODUCTS]
    out = []
    for h in range(7):
        for week in range(5 + h):
            at = T0 + timedelta(days=7 * week + h, hours=h)
            out += [Purchase(f"hh-{h}", skus[(h + k) % len(skus)], at, 1 + k % 3, f"{h}-{week}") for k in range(3)]
    out.append(Purchase("hh-0", "NOT-IN-CATALOG", T0, 1, "x"))
    return out


def test_streamed_batches_read_the_same_history_as_purchase_objects(pg, tmp_path):
    container = bootstrap(Settings(var_dir=tmp_path, database_url=pg, model_dir=tmp_path / "models"),
                          queue=RecordingQueue())
    with container.uow() as uow:
        uow.products.upsert_many(PRODUCTS)
        uow.session.commit()
    purchases = _purchases()
    store_purchases(container, purchases)
    row_of = {p.sku: i for i, p in enumerate(PRODUCTS)}
    with container.uow() as uow:
        batches = list(purchase_chunks(uow.session, [p.sku for p in PRODUCTS], batch=10))
        got = History.collect(StoredHistory(uow.purchases.chunks, uow.purchases.count()), row_of, None)
    want = History.collect(purchases, row_of, None)
    assert len(batches) > 5 and all(b[0].size <= 10 + 1 for b in batches)  # streamed in batches
    assert sum(b[0].size for b in batches) == len(purchases) - 1  # the unknown SKU is left out
    assert got.n_households == want.n_households == 7
    for name in ("hh", "rows", "qty"):
        assert np.array_equal(getattr(got, name), getattr(want, name)), name
    assert np.allclose(got.days, want.days, rtol=0, atol=1e-9)
    assert got.rows.dtype == np.int32 and got.qty.dtype == np.float32

    version = container.recommendations.retrain()
    assert version is not None
    meta = container.recommendations.status()
    assert meta["model"] == "learned"
