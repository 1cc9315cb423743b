"""A simulated retailer. It keeps its books in the database, so every process sees the same store.

It accepts orders (refusing out-of-stock SKUs), deduplicates by idempotency key and counts the attempts,
confirms, ships and delivers after configurable delays measured on an injectable clock, and attaches a
delivery photo (an inline drawing, so it shows with no store behind it).
"""
from __future__ import annotations

import base64
import time
import uuid
from datetime import datetime, timedelta
from typing import Callable, Iterable

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from replenish.services.ports import RetailerStatus, SubmitRequest, SubmitResult

from . import orm


def _insert_for(dialect: str):
    return pg_insert if dialect == "postgresql" else sqlite_insert


# The simulated store's "photo at the door": a drawing carried in the answer itself (an inline SVG), so the
# dashboard shows a picture with no store on the internet behind it.
DELIVERY_PHOTO = "data:image/svg+xml;base64," + base64.b64encode(b"""<svg xmlns="http://www.w3.org/2000/svg" \
viewBox="0 0 320 200"><rect width="320" height="200" fill="#e9eef2"/><rect x="190" y="20" width="90" height="170" \
fill="#8a6d4b"/><circle cx="266" cy="110" r="5" fill="#e2c275"/><rect x="0" y="180" width="320" height="20" \
fill="#9aa5ad"/><rect x="60" y="110" width="110" height="70" fill="#c89b62" stroke="#8b6a3e" stroke-width="3"/>\
<rect x="108" y="110" width="14" height="70" fill="#e8d3a8"/><text x="20" y="40" font-family="sans-serif" \
font-size="20" fill="#33414d">Delivered</text></svg>""").decode()


class SimulatedStore:
    def __init__(self, engine, clock: Callable[[], datetime], *, confirm_delay: float = 5, ship_delay: float = 60,
                 deliver_delay: float = 180, out_of_stock: Iterable[str] = (), base_url: str = "https://store.example",
                 submit_latency: float = 0.0):
        self.engine = engine
        self.clock = clock
        self.confirm_delay = timedelta(seconds=confirm_delay)
        self.ship_delay = timedelta(seconds=ship_delay)
        self.deliver_delay = timedelta(seconds=deliver_delay)
        self.out_of_stock = set(out_of_stock)
        self.base_url = base_url
        # Time the store takes to answer after it has booked the order: the window in which a caller can
        # die having been accepted but before it has recorded so (what duplicate-submission tests aim at).
        self.submit_latency = submit_latency

    def submit(self, request: SubmitRequest) -> SubmitResult:
        return self.submit_many([request])[0]

    def submit_many(self, requests: list[SubmitRequest]) -> list[SubmitResult]:
        """Books several orders in one transaction, as a store's batch order API would."""
        answers: dict[int, SubmitResult] = {}
        rows, now = {}, self.clock()
        for i, request in enumerate(requests):
            missing = [line.sku for line in request.lines if line.sku in self.out_of_stock]
            if missing:
                answers[i] = SubmitResult(False, reason=f"out of stock: {', '.join(missing)}")
                continue
            rows.setdefault(request.idempotency_key, {
                "retailer_order_id": "SIM-" + uuid.uuid4().hex[:12].upper(),
                "idempotency_key": request.idempotency_key, "received_at": now, "attempts": 1,
                "payload": {"household_id": request.household_id, "address": request.address,
                            "lines": [{"sku": l.sku, "quantity": l.quantity, "unit_price_cents": l.unit_price_cents}
                                      for l in request.lines]}})
        booked: dict[str, str] = {}
        if rows:
            # One statement books each order or, for a key seen before, counts the attempt and returns the
            # existing booking: concurrent deliveries of the same key cannot book twice.
            t = orm.sim_store_orders
            insert = _insert_for(self.engine.dialect.name)
            stmt = insert(t).values(list(rows.values()))
            stmt = stmt.on_conflict_do_update(index_elements=[t.c.idempotency_key],
                                              set_={"attempts": t.c.attempts + 1}
                                              ).returning(t.c.idempotency_key, t.c.retailer_order_id)
            with self.engine.begin() as conn:
                booked = {key: order_id for key, order_id in conn.execute(stmt)}
        if self.submit_latency:
            time.sleep(self.submit_latency)
        return [answers[i] if i in answers else SubmitResult(True, booked[r.idempotency_key])
                for i, r in enumerate(requests)]

    def _row(self, retailer_order_id: str):
        t = orm.sim_store_orders
        with self.engine.connect() as conn:
            return conn.execute(select(t).where(t.c.retailer_order_id == retailer_order_id)).first()

    def status(self, retailer_order_id: str) -> RetailerStatus:
        row = self._row(retailer_order_id)
        if row is None:
            raise KeyError(retailer_order_id)
        if row.cancelled_at is not None:
            return RetailerStatus("cancelled")
        age = self.clock() - row.received_at
        eta = row.received_at + self.deliver_delay
        tracking = f"{self.base_url}/track/{retailer_order_id}"
        if age >= self.deliver_delay:
            return RetailerStatus("delivered", tracking, eta, DELIVERY_PHOTO)
        if age >= self.ship_delay:
            return RetailerStatus("shipped", tracking, eta)
        if age >= self.confirm_delay:
            return RetailerStatus("confirmed", None, eta)
        return RetailerStatus("submitted", None, eta)

    def cancel(self, retailer_order_id: str) -> bool:
        row = self._row(retailer_order_id)
        if row is None or self.status(retailer_order_id).status in {"shipped", "delivered"}:
            return False
        t = orm.sim_store_orders
        with self.engine.begin() as conn:
            conn.execute(update(t).where(t.c.retailer_order_id == retailer_order_id).values(cancelled_at=self.clock()))
        return True

    # -- the store's books, for tests and the dashboard -------------------------------------------------
    def attempts_by_key(self) -> dict[str, int]:
        t = orm.sim_store_orders
        with self.engine.connect() as conn:
            return {r.idempotency_key: r.attempts for r in conn.execute(select(t.c.idempotency_key, t.c.attempts))}
