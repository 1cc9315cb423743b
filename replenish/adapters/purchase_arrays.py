"""The whole purchase history as numpy arrays, a batch at a time, for training the recommender.

Training reads every purchase line (33M at Instacart's size). One Python object per line costs about
a hundred bytes, so it reads arrays instead: per line the household (a number, one per household),
the product (its position in the SKU list the caller gives), the day (float days since the epoch)
and the quantity. On PostgreSQL a binary ``COPY`` streams fixed-width rows that numpy reads in place:
the database numbers households and maps SKUs, and memory holds one batch, not the history.
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
BATCH = 1_000_000

_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_HEADER = len(_SIGNATURE) + 8  # flags and header-extension length, both 32-bit
# a row of the binary COPY format: field count, then each field's length and value (big-endian)
_ROW = np.dtype([("fields", ">i2"), ("len_hh", ">i4"), ("hh", ">i4"), ("len_row", ">i4"), ("row", ">i4"),
                 ("len_at", ">i4"), ("at", ">f8"), ("len_qty", ">i4"), ("qty", ">i4")])
_LENGTHS = (4, 4, 8, 4)

_COPY = """COPY (
    SELECT h.code, (m.n - 1)::int4, extract(epoch FROM p.ordered_at)::float8, p.quantity::int4
    FROM purchases p
    JOIN (SELECT household_id, (row_number() OVER (ORDER BY household_id) - 1)::int4 AS code
          FROM (SELECT DISTINCT household_id FROM purchases) d) h ON h.household_id = p.household_id
    JOIN unnest(%s::text[]) WITH ORDINALITY AS m(sku, n) ON m.sku = p.sku
) TO STDOUT (FORMAT BINARY)"""


def purchase_chunks(session: Session, skus: Sequence[str], batch: int = BATCH) -> Iterator[Chunk]:
    """Every purchase of a product in ``skus``, in batches of about ``batch`` lines (any order)."""
    if session.get_bind().dialect.name == "postgresql":
        yield from _copy_chunks(session, skus, batch)
    else:
        yield from _select_chunks(session, skus, batch)


def _copy_chunks(session: Session, skus: Sequence[str], batch: int) -> Iterator[Chunk]:
    raw = session.connection().connection.driver_connection  # the session's own connection and transaction
    buf = bytearray()
    started = False
    limit = batch * _ROW.itemsize
    with raw.cursor() as cur, cur.copy(_COPY, (list(skus),)) as copy:
        for data in copy:
            buf += data
            if not started and len(buf) >= _HEADER:
                if bytes(buf[:len(_SIGNATURE)]) != _SIGNATURE:
                    raise ValueError("not a binary COPY stream")
                del buf[:_HEADER]
                started = True
            if started and len(buf) >= limit:
                yield _parse(buf)
    # what is left: whole rows, then the trailer (a field count of -1)
    if not started or len(buf) < 2 or bytes(buf[-2:]) != b"\xff\xff" or (len(buf) - 2) % _ROW.itemsize:
        raise ValueError("the binary COPY stream ended unexpectedly")
    del buf[-2:]
    if buf:
        yield _parse(buf)


def _parse(buf: bytearray) -> Chunk:
    """Whole rows at the start of ``buf`` as arrays; they are removed from ``buf``."""
    n = len(buf) // _ROW.itemsize
    rows = np.frombuffer(buf, _ROW, count=n)
    if n and ((rows["fields"] != 4).any() or any((rows[f"len_{k}"] != size).any() for k, size in
                                                 zip(("hh", "row", "at", "qty"), _LENGTHS, strict=True))):
        raise ValueError("unexpected row layout in the binary COPY stream")
    chunk = (rows["hh"].astype(np.int32), rows["row"].astype(np.int32), rows["at"] / DAY,
             rows["qty"].astype(np.float32))
    del rows
    del buf[:n * _ROW.itemsize]
    return chunk


def _select_chunks(session: Session, skus: Sequence[str], batch: int) -> Iterator[Chunk]:
    """Any other database (SQLite in tests and small set-ups): a streamed SELECT, converted per batch."""
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
