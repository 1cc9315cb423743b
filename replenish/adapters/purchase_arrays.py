"""The whole purchase history as numpy arrays, a batch at a time, for training the recommender.

Training reads every purchase line (33M at Instacart's size). One Python object per line kept for the whole
history costs about a hundred bytes a line, so it keeps arrays instead: per line the household (a number, one
per household), the product (its position in the SKU list the caller gives), the day (float days since the
epoch) and the quantity. The lines come through the one path every read takes (a SQLAlchemy select on the unit
of work's session, streamed with ``yield_per``: a server-side cursor on PostgreSQL), and only one batch of rows
is held as Python objects at a time.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import orm

# household (int32), product position (int32), day (float64), quantity (float32): 20 bytes a line
Chunk = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
DAY = 86400.0
BATCH = 200_000


def purchase_chunks(session: Session, skus: Sequence[str], batch: int = BATCH) -> Iterator[Chunk]:
    """Every purchase of a product in ``skus``, in batches of at most ``batch`` lines (in the order stored)."""
    p = orm.purchases
    position = {sku: i for i, sku in enumerate(skus)}
    codes: dict[str, int] = {}
    stmt = select(p.c.household_id, p.c.sku, p.c.ordered_at, p.c.quantity).execution_options(yield_per=batch)
    for part in session.execute(stmt).partitions():
        known = [r for r in part if r[1] in position]
        if not known:
            continue
        yield (np.fromiter((codes.setdefault(r[0], len(codes)) for r in known), np.int32, len(known)),
               np.fromiter((position[r[1]] for r in known), np.int32, len(known)),
               np.fromiter((r[2].timestamp() / DAY for r in known), np.float64, len(known)),
               np.fromiter((r[3] for r in known), np.float32, len(known)))
