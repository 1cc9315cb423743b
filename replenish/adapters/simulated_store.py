"""A simulated retailer. It keeps its books in the database, so every process sees the same store.

It accepts orders (refusing out-of-stock SKUs), deduplicates by idempotency key and counts the attempts,
confirms, ships and delivers after configurable delays measured on an injectable clock, and attaches a
delivery photo (an inline drawing, so it shows with no store behind it).
"""
from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine

from replenish.services.ports import RetailerStatus, SubmitLine, SubmitPart, SubmitRequest, SubmitResult

from . import orm

if TYPE_CHECKING:
    from flask import Flask, Response
    from flask.typing import ResponseReturnValue


def _insert_for(dialect: str) -> Callable[..., Any]:
    """The dialect's INSERT (both have ``on_conflict_do_update``)."""
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
    def __init__(self, engine: Engine, clock: Callable[[], datetime], *, confirm_delay: float = 5,
                 ship_delay: float = 60, deliver_delay: float = 180, out_of_stock: Iterable[str] = (),
                 base_url: str = "https://store.example", submit_latency: float = 0.0):
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
        rows: dict[str, dict[str, Any]] = {}
        now = self.clock()
        known = self._known_keys([r.idempotency_key for r in requests
                                  if any(line.sku in self.out_of_stock for line in r.lines)])
        for i, request in enumerate(requests):
            missing = [line.sku for line in request.lines if line.sku in self.out_of_stock]
            if missing and request.idempotency_key not in known:  # a key seen before: its booking, stock or not
                answers[i] = SubmitResult(False, reason=f"out of stock: {', '.join(missing)}")
                continue
            rows.setdefault(request.idempotency_key, {
                "retailer_order_id": "SIM-" + uuid.uuid4().hex[:12].upper(),
                "idempotency_key": request.idempotency_key, "received_at": now, "attempts": 1,
                "payload": {"household_id": request.household_id, "address": request.address,
                            "lines": [{"sku": line.sku, "quantity": line.quantity,
                                       "unit_price_cents": line.unit_price_cents}
                                      for line in request.lines],
                            # a merged submission: the orders it carries (line-level cancels name them)
                            "order_ids": [p.order_id for p in request.parts] or [request.idempotency_key],
                            "parts": [{"order_id": p.order_id, "lines": [
                                {"sku": ln.sku, "quantity": ln.quantity, "unit_price_cents": ln.unit_price_cents}
                                for ln in p.lines]} for p in request.parts]}})
        booked: dict[str, tuple[str, tuple[str, ...]]] = {}  # key -> (retailer order id, our orders it holds)
        if rows:
            # One statement books each order or, for a key seen before, counts the attempt and returns the
            # existing booking: concurrent deliveries of the same key cannot book twice.
            t = orm.sim_store_orders
            insert = _insert_for(self.engine.dialect.name)
            stmt = insert(t).values(list(rows.values()))
            stmt = stmt.on_conflict_do_update(index_elements=[t.c.idempotency_key],
                                              set_={"attempts": t.c.attempts + 1}
                                              ).returning(t.c.idempotency_key, t.c.retailer_order_id, t.c.payload)
            with self.engine.begin() as conn:
                for row in conn.execute(stmt):
                    key = row.idempotency_key
                    booked[key] = (row.retailer_order_id, tuple(_order_ids(row.payload, key)))
        if self.submit_latency:
            time.sleep(self.submit_latency)
        return [answers[i] if i in answers else SubmitResult(True, booked[r.idempotency_key][0],
                                                              order_ids=booked[r.idempotency_key][1])
                for i, r in enumerate(requests)]

    def _known_keys(self, keys: list[str]) -> set[str]:
        if not keys:
            return set()
        t = orm.sim_store_orders
        with self.engine.connect() as conn:
            return set(conn.scalars(select(t.c.idempotency_key).where(t.c.idempotency_key.in_(keys))))

    def _row(self, retailer_order_id: str) -> orm.AnyRow | None:
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

    def cancel_lines(self, retailer_order_id: str, order_ids: list[str]) -> bool:
        """Takes the lines of some of a merged order's orders off it (the whole order is cancelled once none is
        left); False once it has shipped. Asking again for the same orders answers True."""
        t = orm.sim_store_orders
        with self.engine.begin() as conn:
            stmt = select(t).where(t.c.retailer_order_id == retailer_order_id)
            if self.engine.dialect.name == "postgresql":
                stmt = stmt.with_for_update()
            row = conn.execute(stmt).first()
            if row is None:
                return False
            payload = dict(row.payload)
            carried = _order_ids(payload, row.idempotency_key)
            if not set(order_ids) <= set(carried):
                return False
            if row.cancelled_at is None and self.clock() - row.received_at >= self.ship_delay:
                return False
            gone = sorted(set(payload.get("cancelled_order_ids") or []) | set(order_ids))
            payload["cancelled_order_ids"] = gone
            values: dict[str, Any] = {"payload": payload}
            if set(carried) <= set(gone) and row.cancelled_at is None:
                values["cancelled_at"] = self.clock()
            conn.execute(update(t).where(t.c.retailer_order_id == retailer_order_id).values(**values))
        return True

    def lines_of(self, retailer_order_id: str) -> list[dict[str, Any]]:
        """What the store will deliver for this order: its lines less those of cancelled orders (none for an
        order it does not have)."""
        row = self._row(retailer_order_id)
        if row is None:
            return []
        payload = row.payload
        gone = set(payload.get("cancelled_order_ids") or [])
        parts = payload.get("parts")
        if not parts:
            return [] if gone else list(payload["lines"])
        return [line for part in parts if part["order_id"] not in gone for line in part["lines"]]

    def bookings(self) -> list[dict[str, Any]]:
        """Every booking: its retailer order id, key, attempts and the orders it carries."""
        t = orm.sim_store_orders
        with self.engine.connect() as conn:
            return [{"retailer_order_id": r.retailer_order_id, "idempotency_key": r.idempotency_key,
                     "attempts": r.attempts, "order_ids": _order_ids(r.payload, r.idempotency_key)}
                    for r in conn.execute(select(t))]

    # -- the store's books, for tests and the dashboard -------------------------------------------------
    def attempts_by_key(self) -> dict[str, int]:
        t = orm.sim_store_orders
        with self.engine.connect() as conn:
            return {r.idempotency_key: r.attempts for r in conn.execute(select(t.c.idempotency_key, t.c.attempts))}


# -- the store over HTTP: the retailer protocol (docs/retailer-protocol.md) ---------------------------------

class Faults:
    """Transient failures the HTTP store injects, as fractions of calls: ``refuse`` answers 503 before booking
    anything; ``lose`` books (or finds) the orders and then answers 504, as a proxy does when the store's reply
    was lost. A batch call fails or loses its reply as a whole."""

    def __init__(self, refuse: float = 0.0, lose: float = 0.0, rng: Callable[[], float] | None = None):
        import random
        self.refuse, self.lose = float(refuse), float(lose)
        self.rng = rng or random.random
        self.counts = {"calls": 0, "refused": 0, "lost": 0}

    def draw(self) -> str:
        r = self.rng()
        self.counts["calls"] += 1
        outcome = "refuse" if r < self.refuse else "lose" if r < self.refuse + self.lose else "ok"
        if outcome != "ok":
            self.counts["refused" if outcome == "refuse" else "lost"] += 1
        return outcome


MAX_BATCH = 100


def _order_ids(payload: dict[str, Any], key: str) -> list[str]:
    """The orders a booking carries (older bookings: the one order whose id is the key)."""
    return list(payload.get("order_ids") or [key])


def _lines_from(lines: object) -> tuple[SubmitLine, ...]:
    if not isinstance(lines, list) or not lines:
        raise ValueError("an order needs at least one line")
    try:
        return tuple(SubmitLine(str(ln["sku"]), int(ln["quantity"]), int(ln["unit_price_cents"])) for ln in lines)
    except (KeyError, TypeError, ValueError):
        raise ValueError("each line needs sku, quantity and unit_price_cents") from None


def _request_from(body: dict[str, Any]) -> SubmitRequest:
    key = body.get("idempotency_key")
    if not isinstance(key, str) or not key:
        raise ValueError("an order needs an idempotency_key and at least one line")
    parts_in = body.get("parts")
    parts: tuple[SubmitPart, ...] = ()
    if parts_in is not None:
        if not isinstance(parts_in, list) or not parts_in or not all(isinstance(p, dict) for p in parts_in):
            raise ValueError("parts must be a list of {order_id, lines}")
        ids = [p.get("order_id") for p in parts_in]
        if not all(isinstance(i, str) and i for i in ids) or len(set(ids)) != len(ids):
            raise ValueError("each part needs its own order_id")
        parts = tuple(SubmitPart(p["order_id"], _lines_from(p.get("lines"))) for p in parts_in)
        lines = tuple(line for part in parts for line in part.lines)
    else:
        lines = _lines_from(body.get("lines"))
    return SubmitRequest(key, str(body.get("household_id") or ""), str(body.get("ship_to") or ""), lines, parts)


def make_http_app(store: SimulatedStore, secrets: Iterable[str], faults: Faults | None = None, batch: bool = True
                  ) -> Flask:
    """A WSGI app that serves ``store`` over the HTTP retailer protocol: signed requests only (401 otherwise),
    ``POST /orders`` (one order, Idempotency-Key header), ``POST /orders/batch`` (up to 100, one result each;
    404 with ``batch=False``, as from a retailer without it), ``GET /orders/<id>``, ``POST /orders/<id>/cancel``."""
    from flask import Flask, Response, jsonify, request

    from .retailer_signing import SIGNATURE_HEADER, verify

    keys = [s for s in secrets if s]
    chance = faults or Faults()
    app = Flask("simulated-store")
    app.extensions["faults"] = chance

    def error(status: int, code: str, message: str) -> Response:
        response = jsonify(error={"code": code, "message": message})
        response.status_code = status
        return response

    @app.before_request
    def authenticate() -> ResponseReturnValue | None:
        if not verify(keys, request.headers.get(SIGNATURE_HEADER), request.get_data(cache=True)):
            return error(401, "bad_signature", "missing, stale or wrong X-Replenish-Signature")
        return None

    def book(requests_: list[SubmitRequest]) -> list[SubmitResult] | Response:
        """The answers, or a failure response for the faults' refused or lost calls."""
        outcome = chance.draw()
        if outcome == "refuse":
            return error(503, "unavailable", "the store is busy; nothing was booked, try again")
        answers = store.submit_many(requests_)
        if outcome == "lose":
            return error(504, "reply_lost", "gateway timeout")
        return answers

    @app.post("/orders")
    def create() -> ResponseReturnValue:
        body = request.get_json(silent=True, force=True)
        try:
            order = _request_from(body if isinstance(body, dict) else {})
        except ValueError as exc:
            return error(400, "bad_request", str(exc))
        if request.headers.get("Idempotency-Key") != order.idempotency_key:
            return error(400, "bad_request", "the Idempotency-Key header must equal the body's idempotency_key")
        answers = book([order])
        if isinstance(answers, Response):
            return answers
        answer = answers[0]
        if not answer.accepted:
            return error(409, "out_of_stock", answer.reason or "refused")
        return jsonify(retailer_order_id=answer.retailer_order_id, status="submitted",
                       order_ids=list(answer.order_ids or ())), 201

    @app.post("/orders/batch")
    def create_many() -> ResponseReturnValue:
        if not batch:
            return error(404, "not_found", "no batch endpoint here")
        body = request.get_json(silent=True, force=True)
        orders = body.get("orders") if isinstance(body, dict) else None
        if not isinstance(orders, list) or not 1 <= len(orders) <= MAX_BATCH:
            return error(400, "bad_request", f"orders must be a list of 1 to {MAX_BATCH} orders")
        try:
            parsed = [_request_from(o if isinstance(o, dict) else {}) for o in orders]
        except ValueError as exc:
            return error(400, "bad_request", str(exc))
        if len({o.idempotency_key for o in parsed}) != len(parsed):
            return error(400, "bad_request", "each order in a batch needs its own idempotency_key")
        answers = book(parsed)
        if isinstance(answers, Response):
            return answers
        return jsonify(results=[
            {"idempotency_key": o.idempotency_key, "status": "accepted", "retailer_order_id": a.retailer_order_id,
             "order_ids": list(a.order_ids or ())}
            if a.accepted else
            {"idempotency_key": o.idempotency_key, "status": "refused",
             "error": {"code": "out_of_stock", "message": a.reason or "refused"}}
            for o, a in zip(parsed, answers, strict=False)])

    @app.get("/orders/<retailer_order_id>")
    def show(retailer_order_id: str) -> ResponseReturnValue:
        try:
            status = store.status(retailer_order_id)
        except KeyError:
            return error(404, "not_found", "no such order")
        return jsonify(status=status.status, tracking_url=status.tracking_url,
                       expected_delivery=status.expected_delivery.isoformat() if status.expected_delivery else None,
                       delivery_photo_url=status.delivery_photo_url)

    @app.post("/orders/<retailer_order_id>/cancel")
    def cancel(retailer_order_id: str) -> ResponseReturnValue:
        if store._row(retailer_order_id) is None:
            return error(404, "not_found", "no such order")
        body = request.get_json(silent=True, force=True) if request.get_data(cache=True) else None
        if isinstance(body, dict) and "order_ids" in body:  # a line-level cancel: these orders' lines only
            ids = body["order_ids"]
            if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
                return error(400, "bad_request", "order_ids must be a list of order ids")
            row = store._row(retailer_order_id)
            if row is None or not set(ids) <= set(_order_ids(row.payload, row.idempotency_key)):
                return error(400, "bad_request", "this order does not carry all of those orders")
            if not store.cancel_lines(retailer_order_id, ids):
                return error(409, "too_late", "the order has shipped")
            return jsonify(cancelled=True, order_ids=ids)
        if not store.cancel(retailer_order_id):
            return error(409, "too_late", "the order has shipped")
        return jsonify(cancelled=True)

    return app


def wsgi_app() -> Flask:
    """The HTTP store from the environment, for gunicorn (``'replenish.adapters.simulated_store:wsgi_app()'``):
    DATABASE_URL (its books), RETAILER_SECRET, SIM_FAIL_REFUSE and SIM_FAIL_LOSE (fractions of calls),
    SIM_BATCH=0 (no batch endpoint), and the SIM_* delays as for the in-process store."""
    import os

    from replenish.config import Settings
    from replenish.db import make_engine

    from .clock import system_clock
    settings = Settings.from_env()
    store = SimulatedStore(make_engine(settings.database_url), system_clock,
                           confirm_delay=settings.sim_confirm_delay, ship_delay=settings.sim_ship_delay,
                           deliver_delay=settings.sim_deliver_delay, out_of_stock=settings.sim_out_of_stock)
    faults = Faults(float(os.environ.get("SIM_FAIL_REFUSE") or 0), float(os.environ.get("SIM_FAIL_LOSE") or 0))
    return make_http_app(store, [settings.retailer_secret], faults,
                         batch=os.environ.get("SIM_BATCH", "1") not in ("0", "false", "no"))
