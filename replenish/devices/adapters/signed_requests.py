"""The log of signed requests accepted within the signature tolerance window, by ``(keyid, nonce)``.

It is what refuses replays, in the database so that it holds whatever Redis knows (or forgot): the first request
with a nonce inserts the row; a byte-identical repeat reads the answer stored with it (an idempotent retry gets the
same answer); a different request reusing the nonce is refused. Rows older than the window are pruned: a request
signed that long ago fails its ``created`` check anyway.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine

from replenish.devices.adapters.orm import signed_requests as t

NEW, ANSWERED, PENDING, CONFLICT = "new", "answered", "pending", "conflict"


@dataclass(frozen=True)
class Seen:
    outcome: str  # new | answered | pending | conflict
    status_code: int | None = None
    body: bytes | None = None


class SignedRequestLog:
    def __init__(self, engine: Engine, keep: timedelta = timedelta(minutes=15), wait: float = 5.0,
                 sleep: Callable[[float], None] = time.sleep):
        self.engine = engine
        self.keep = keep
        self.wait = wait
        self._sleep = sleep
        # the dialect's INSERT (both have ``on_conflict_do_nothing``)
        self._insert: Callable[..., Any] = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert

    def _claim(self, key_id: str, nonce: str, fp: str, now: datetime) -> Seen:
        with self.engine.begin() as conn:
            inserted = conn.execute(self._insert(t).values(key_id=key_id, nonce=nonce, fingerprint=fp, created_at=now)
                                    .on_conflict_do_nothing(index_elements=["key_id", "nonce"])
                                    .returning(t.c.key_id)).first()
            if inserted is not None:
                return Seen(NEW)
            row = conn.execute(select(t.c.fingerprint, t.c.status_code, t.c.body)
                               .where(t.c.key_id == key_id, t.c.nonce == nonce)).first()
        if row is None:  # forgotten in between (the first attempt failed): try again
            return Seen(PENDING)
        if row.fingerprint != fp:
            return Seen(CONFLICT)
        if row.status_code is None:
            return Seen(PENDING)
        return Seen(ANSWERED, row.status_code, row.body)

    def begin(self, key_id: str, nonce: str, fp: str, now: datetime) -> Seen:
        """``NEW`` (this request is the first with the nonce: answer it, then ``finish`` or ``forget``),
        ``ANSWERED`` with the stored answer (an exact repeat), ``CONFLICT`` (another request used the nonce), or
        ``PENDING`` when the first is still being answered after ``wait`` seconds."""
        deadline = time.monotonic() + self.wait
        pause = 0.005
        while True:
            seen = self._claim(key_id, nonce, fp, now)
            if seen.outcome != PENDING or time.monotonic() >= deadline:
                return seen
            self._sleep(pause)
            pause = min(pause * 2, 0.1)

    def finish(self, key_id: str, nonce: str, status_code: int, body: bytes) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(t).where(t.c.key_id == key_id, t.c.nonce == nonce)
                         .values(status_code=status_code, body=body))

    def forget(self, key_id: str, nonce: str) -> None:
        """The first request failed on our side (5xx): its client may retry it as it is."""
        with self.engine.begin() as conn:
            conn.execute(delete(t).where(t.c.key_id == key_id, t.c.nonce == nonce, t.c.status_code.is_(None)))

    def prune(self, now: datetime) -> int:
        with self.engine.begin() as conn:
            return conn.execute(delete(t).where(t.c.created_at < now - self.keep)).rowcount
