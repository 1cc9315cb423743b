"""Finding buttons, partners, devices, link codes and webhook deliveries in the database."""
from __future__ import annotations

import os
import threading
import time
import weakref
from contextlib import contextmanager
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import String, bindparam, create_engine, event, insert, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, configure_mappers
from sqlalchemy.orm.instrumentation import manager_of_class

from replenish.domain import devices
from replenish.domain.model import Order, hash_secret, new_id

from . import orm
from . import orm_devices as t
from .pg_prepared import ParkedConnections, PreparedStatement, connect_options

_autocommit_engines: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_autocommit_lock = threading.Lock()


def autocommit_engine(engine: Engine) -> Engine:
    """For units of work that are one statement (atomic by themselves): an engine on the same database whose
    connections are in autocommit mode from the start, so each such unit is one round trip, with no BEGIN and
    COMMIT, and without switching a pooled connection's mode at every checkout. One per engine, made on first
    use, with a small pool of its own. SQLite (no round trips to save): the engine itself.

    What is written through it is device telemetry only (a press's time, a slot's level readings, a device's
    last_seen_at; orders and outbox events are written in units of work on ``engine``), so on PostgreSQL its
    commits do not wait for the WAL to reach the disk (``synchronous_commit = off``): should the database
    server crash, the readings of its last fraction of a second may be lost (never half-written), and devices
    report again. Any later synchronous commit, such as an order's, makes them durable as well. Set
    ``REPLENISH_DEVICE_SYNC_COMMIT=1`` to wait for the disk on these too."""
    if engine.dialect.name == "sqlite":
        return engine
    found = _autocommit_engines.get(engine)
    if found is None:
        with _autocommit_lock:
            found = _autocommit_engines.get(engine)
            if found is None:
                durable = os.environ.get("REPLENISH_DEVICE_SYNC_COMMIT", "").strip().lower() in ("1", "true", "yes")
                options = " ".join(filter(None, [engine.url.query.get("options"), connect_options(),
                                                 None if durable else "-c synchronous_commit=off"]))
                # autocommit: no transaction is ever left open, so a returned connection needs no rollback
                found = create_engine(engine.url, isolation_level="AUTOCOMMIT", pool_size=5, max_overflow=10,
                                      pool_reset_on_return=None, pool_recycle=1800,
                                      connect_args={"options": options})
                _autocommit_engines[engine] = found
                event.listen(engine, "engine_disposed", lambda _engine, companion=found: companion.dispose())
    return found


_mappers_ready = False


def _detached(cls, values: dict):
    """A domain object made from a Core row the way the ORM's loader makes one (no ``__init__``), in no session:
    the hot paths read and write their few rows with single Core statements and let the domain decide."""
    global _mappers_ready
    if not _mappers_ready:  # the ORM configures mappers on its first query; a process may not have made one yet
        configure_mappers()
        _mappers_ready = True
    obj = manager_of_class(cls).new_instance()
    obj.__dict__.update(values)
    return obj


def _in_flight_key_suffix(source_id: str) -> str:
    """``Order.source_key(household_id, source_id)`` is the household id followed by this: lets one statement
    find the order in flight for a source from the household id it reads."""
    return Order.source_key("", source_id)


_o = orm.orders
_b = t.buttons
_s = t.slots
_d = t.devices_table
_IN_FLIGHT_ON = (_o.c.active_key == _b.c.household_id + bindparam("key_suffix", type_=String))
_BUTTON_COLUMNS = ("serial", "household_id", "sku", "category", "quantity", "status", "battery", "battery_low_at",
                   "last_press_at")
_SLOT_COLUMNS = tuple(c.key for c in _s.c if c.key != "device_id")  # the device id is asked for

# A press: the button row (locked) and the order in flight for it, in one statement; what Button.pressed changes.
_PRESS_LOAD = (select(*(_b.c[name] for name in _BUTTON_COLUMNS), _o.c.id, _o.c.status)
               .select_from(_b).outerjoin(_o, _IN_FLIGHT_ON)
               .where(_b.c.serial == bindparam("b_serial")).with_for_update(of=_b))
_PRESS_SAVE = update(_b).where(_b.c.serial == bindparam("b_serial")).values(
    last_press_at=bindparam("b_now"), battery=bindparam("b_battery"), battery_low_at=bindparam("b_battery_low_at"))
# A press that records no event (no battery reading, not a status request): noted, and the order in flight
# read, in one statement.
_PRESS_NOTE = (update(_b).where(_b.c.serial == bindparam("b_serial"), _b.c.status == "active")
               .values(last_press_at=bindparam("b_now"))
               .returning(_b.c.household_id, _b.c.sku, _b.c.category, _b.c.quantity,
                          select(_o.c.id).where(_IN_FLIGHT_ON).correlate(_b).scalar_subquery(),
                          select(_o.c.status).where(_IN_FLIGHT_ON).correlate(_b).scalar_subquery()))

# Press times noted in Redis (see button_mirror), written back: the later time wins.
_PRESS_TIMES = update(_b).where(_b.c.serial == bindparam("b_serial"), or_(
    _b.c.last_press_at.is_(None), _b.c.last_press_at < bindparam("b_at"))).values(last_press_at=bindparam("b_at"))

# A slot report: the slot, its device, the pack size of its product and the order in flight for the slot, in
# one statement; and what Slot.report (and the policy) change, with the device's last_seen_at.
_REPORT_SELECT = (select(*(_s.c[name] for name in _SLOT_COLUMNS), _d.c.partner_id, _d.c.household_id, _d.c.status,
                         orm.products.c.pack_size, _o.c.id)
                  .select_from(_s).join(_d, _d.c.id == _s.c.device_id)
                  .outerjoin(orm.products, orm.products.c.sku == _s.c.sku)
                  .outerjoin(_o, _o.c.active_key == _d.c.household_id + bindparam("key_suffix", type_=String))
                  .where(_s.c.device_id == bindparam("b_device"), _s.c.slot_id == bindparam("b_slot")))
_REPORT_LOCK = _REPORT_SELECT.with_for_update(of=_s)
_REPORT_FIELDS = ("remaining", "original", "on_hand", "expected_replenishment", "last_use_at", "reported_at",
                  "history", "notified_at")
# What a report checks is unchanged when it writes without holding the row (see DeviceStatements): every report
# sets reported_at, and a report is a function of the slot's state and (remaining, last use).
_REPORT_WITNESSES = ("reported_at", "remaining", "last_use_at")
_SLOT_SET = {name: bindparam(f"b_{name}", type_=_s.c[name].type) for name in _REPORT_FIELDS}
_SLOT_SAVE = update(_s).where(_s.c.id == bindparam("b_pk")).values(**_SLOT_SET)
_SLOT_SAVE_IF_UNCHANGED = update(_s).where(_s.c.id == bindparam("b_pk"), *(
    _s.c[name].is_not_distinct_from(bindparam(f"b_was_{name}", type_=_s.c[name].type))
    for name in _REPORT_WITNESSES)).values(**_SLOT_SET)
_DEVICE_SEEN = update(_d).where(_d.c.id == bindparam("b_device")).values(last_seen_at=bindparam("b_seen"))
# PostgreSQL: each pair in one statement. (A data-modifying WITH runs whether or not anything reads it; in the
# second the device is updated only when the slot was, and the device id returned says whether it was.)
_REPORT_SAVE = _SLOT_SAVE.add_cte(_DEVICE_SEEN.returning(_d.c.id).cte("device_seen"))
_slot_saved = _SLOT_SAVE_IF_UNCHANGED.returning(_s.c.device_id).cte("slot_saved")
_REPORT_SAVE_IF_UNCHANGED = (update(_d).where(_d.c.id.in_(select(_slot_saved.c.device_id)))
                             .values(last_seen_at=bindparam("b_seen")).add_cte(_slot_saved).returning(_d.c.id))


class Press(NamedTuple):
    """What a press needs to know about its button, and the order in flight for it (if any)."""
    household_id: str
    sku: str | None
    category: str | None
    quantity: int
    order_id: str | None
    order_status: str | None


class SlotReport(NamedTuple):
    """The device and slot a status report is about (domain objects in no session, with the fields a report
    uses), the pack size of the slot's product, the id of the order in flight for the slot (if any), and the
    slot's ``_REPORT_WITNESSES`` as read."""
    device: devices.Device
    slot: devices.Slot
    slot_pk: int
    pack_size: float | None
    order_id: str | None
    read: tuple


def _slot_report(row, device_id: str) -> SlotReport:
    n = len(_SLOT_COLUMNS)
    values = dict(zip(_SLOT_COLUMNS, row))
    values["_id"], values["device_id"] = values.pop("id"), device_id
    slot = _detached(devices.Slot, values)
    device = _detached(devices.Device, {"id": device_id, "partner_id": row[n], "household_id": row[n + 1],
                                        "status": row[n + 2]})
    return SlotReport(device, slot, slot._id, row[n + 3], row[n + 4],
                      tuple(values[name] for name in _REPORT_WITNESSES))


def _report_params(report: SlotReport) -> dict:
    slot = report.slot
    return {"b_pk": report.slot_pk, "b_device": report.device.id, "b_seen": report.device.last_seen_at,
            **{f"b_{name}": getattr(slot, name) for name in _REPORT_FIELDS},
            **{f"b_was_{name}": value for name, value in zip(_REPORT_WITNESSES, report.read)}}


def _report_select_params(device_id: str, slot_id: str, source_id: str) -> dict:
    return {"b_device": device_id, "b_slot": slot_id, "key_suffix": _in_flight_key_suffix(source_id)}


class DeviceStatements:
    """The hot paths of presses and slot reports as units of work of one statement each, atomic by themselves,
    on an autocommit connection (``autocommit_engine``): one round trip each, no BEGIN and COMMIT, no session;
    on PostgreSQL run as ``PreparedStatement`` on ``ParkedConnections``. ``for_engine`` gives the one kept for
    an engine."""

    _kept: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def __init__(self, engine: Engine):
        self.engine = autocommit_engine(engine)
        self.sqlite = self.engine.dialect.name == "sqlite"
        if not self.sqlite:
            dialect = self.engine.dialect
            self._note = PreparedStatement(_PRESS_NOTE, dialect)
            self._report = PreparedStatement(_REPORT_SELECT, dialect)
            self._save = PreparedStatement(_REPORT_SAVE_IF_UNCHANGED, dialect)
            self._parked = ParkedConnections(self.engine)

    @classmethod
    def for_engine(cls, engine: Engine) -> "DeviceStatements":
        found = cls._kept.get(engine)
        if found is None:
            found = cls._kept.setdefault(engine, cls(engine))
        return found

    def note_press(self, serial: str, now: datetime, source_id: str) -> Press | None:
        """Notes a press that records no event (``Button.pressed`` with no battery reading only sets
        ``last_press_at``) on an active button, and reads the order in flight for ``source_id``. None when there
        is no such active button (nothing is written then). (SQLite, which has no round trips to save and
        renders RETURNING columns unqualified, loads and saves in a short transaction.)"""
        params = {"b_serial": serial, "b_now": now, "key_suffix": _in_flight_key_suffix(source_id)}
        if not self.sqlite:
            with self._parked.connection() as conn:
                row = self._note.first(conn, params)
            return Press(*row) if row is not None else None
        with self.engine.begin() as conn:
            row = conn.execute(_PRESS_LOAD, params).first()
            if row is None or row.status != "active":
                return None
            conn.execute(_PRESS_SAVE, {**params, "b_battery": row.battery, "b_battery_low_at": row.battery_low_at})
        return Press(row.household_id, row.sku, row.category, row.quantity, row[-2], row[-1])

    def note_presses(self, presses: dict[str, datetime]) -> None:
        """Writes press times noted elsewhere (``ButtonMirror``) to their buttons, unless a later one is there."""
        if presses:
            with self.engine.begin() as conn:
                conn.execute(_PRESS_TIMES, [{"b_serial": serial, "b_at": at} for serial, at in presses.items()])

    @contextmanager
    def connection(self):
        """One pooled connection for statements run one after the other (a slot report's read and write), to
        pass to them as ``held``. (None on SQLite.)"""
        if self.sqlite:
            yield None
            return
        with self._parked.connection() as conn:
            yield conn

    def slot_for_report(self, device_id: str, slot_id: str, source_id: str, held=None) -> SlotReport | None:
        """As ``DeviceRepository.slot_for_report``, without a lock: write it back with
        ``save_report_if_unchanged``."""
        params = _report_select_params(device_id, slot_id, source_id)
        if not self.sqlite:
            if held is not None:
                row = self._report.first(held, params)
            else:
                with self._parked.connection() as conn:
                    row = self._report.first(conn, params)
        else:
            with self.engine.connect() as conn:
                row = conn.execute(_REPORT_SELECT, params).first()
        return _slot_report(row, device_id) if row is not None else None

    def save_report_if_unchanged(self, report: SlotReport, held=None) -> bool:
        """Writes a report back, and the device's ``last_seen_at``, if the slot is as it was read (no other
        report got in between); False, writing nothing, if not."""
        params = _report_params(report)
        if not self.sqlite:
            if held is not None:
                return self._save.first(held, params) is not None
            with self._parked.connection() as conn:
                return self._save.first(conn, params) is not None
        with self.engine.begin() as conn:
            if conn.execute(_SLOT_SAVE_IF_UNCHANGED, params).rowcount != 1:
                return False
            conn.execute(_DEVICE_SEEN, params)
        return True


class DeviceRepository:
    """Buttons, partners, devices (with their slots) and link codes: one repository for the channel."""

    def __init__(self, session: Session):
        self.session = session

    # -- buttons ---------------------------------------------------------------------------------------
    def add_button(self, button: devices.Button) -> None:
        self.session.add(button)

    def button(self, serial: str, *, for_update: bool = False) -> devices.Button | None:
        if not for_update:
            return self.session.get(devices.Button, serial)
        stmt = select(devices.Button).where(t.buttons.c.serial == serial).with_for_update()
        return self.session.scalars(stmt).first()

    def buttons_for(self, household_id: str) -> list[devices.Button]:
        return list(self.session.scalars(select(devices.Button).where(t.buttons.c.household_id == household_id)
                                         .order_by(t.buttons.c.created_at)))

    def button_for_press(self, serial: str, source_id: str) -> tuple[devices.Button, tuple[str, str] | None] | None:
        """The button (locked, in no session: write it back with ``save_press``) and the (id, status) of the
        order in flight for ``source_id``, in one statement."""
        row = self.session.connection().execute(_PRESS_LOAD, {
            "b_serial": serial, "key_suffix": _in_flight_key_suffix(source_id)}).first()
        if row is None:
            return None
        button = _detached(devices.Button, dict(zip(_BUTTON_COLUMNS, row)))
        return button, ((row[-2], row[-1]) if row[-2] is not None else None)

    def save_press(self, button: devices.Button) -> None:
        """Writes back what ``Button.pressed`` changes."""
        self.session.connection().execute(_PRESS_SAVE, {
            "b_serial": button.serial, "b_now": button.last_press_at, "b_battery": button.battery,
            "b_battery_low_at": button.battery_low_at})

    # -- partners --------------------------------------------------------------------------------------
    def add_partner(self, partner: devices.Partner) -> None:
        self.session.add(partner)

    def partner(self, partner_id: str) -> devices.Partner | None:
        return self.session.get(devices.Partner, partner_id)

    def partner_by_key(self, api_key: str) -> devices.Partner | None:
        stmt = select(devices.Partner).where(t.partners.c.api_key_hash == hash_secret(api_key),
                                             t.partners.c.revoked_at.is_(None))
        return self.session.scalars(stmt).first()

    # -- link codes ------------------------------------------------------------------------------------
    def add_link_code(self, code: devices.LinkCode) -> None:
        self.session.add(code)

    def link_code(self, code: str, *, for_update: bool = False) -> devices.LinkCode | None:
        stmt = select(devices.LinkCode).where(
            t.link_codes.c.code_hash == hash_secret(devices.LinkCode.normalise(code)))
        if for_update:
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).first()

    # -- devices ---------------------------------------------------------------------------------------
    def add_device(self, device: devices.Device) -> None:
        self.session.add(device)

    def device(self, device_id: str, *, for_update: bool = False) -> devices.Device | None:
        stmt = select(devices.Device).where(t.devices_table.c.id == device_id)
        if for_update:
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).first()

    def slot_for_report(self, device_id: str, slot_id: str, source_id: str) -> SlotReport | None:
        """What a status report works on, in one statement (see ``SlotReport``); the slot row is locked until
        the unit of work ends, so reports of a slot are serialised and this is its latest state. None when the
        device has no such slot (or there is no such device). Write the report back with ``save_report``."""
        row = self.session.connection().execute(_REPORT_LOCK,
                                                _report_select_params(device_id, slot_id, source_id)).first()
        return _slot_report(row, device_id) if row is not None else None

    def save_report(self, report: SlotReport) -> None:
        """Writes back what ``Slot.report`` (and the policy) change, and the device's ``last_seen_at``: one
        statement on PostgreSQL."""
        conn = self.session.connection()
        params = _report_params(report)
        if conn.dialect.name == "postgresql":
            conn.execute(_REPORT_SAVE, params)
        else:
            conn.execute(_SLOT_SAVE, params)
            conn.execute(_DEVICE_SEEN, params)

    def device_by_token(self, token: str) -> devices.Device | None:
        return self.session.scalars(select(devices.Device).where(
            t.devices_table.c.token_hash == hash_secret(token))).first()

    def active_device(self, partner_id: str, external_id: str) -> devices.Device | None:
        key = devices.Device.partner_key(partner_id, external_id)
        return self.session.scalars(select(devices.Device).where(t.devices_table.c.active_key == key)).first()

    def devices_for(self, household_id: str) -> list[devices.Device]:
        return list(self.session.scalars(select(devices.Device).where(
            t.devices_table.c.household_id == household_id).order_by(t.devices_table.c.created_at)))



class DeviceLookups:
    """Single-statement reads that authenticate a request before any unit of work starts. On PostgreSQL they
    run on an autocommit connection (``autocommit_engine``): one round trip, instead of BEGIN, SELECT and
    ROLLBACK.

    Two of them are kept in this process for a short while, as a request's own checks make that safe:

    - An active button's secret, for ``ttl`` seconds: a secret never changes, and the press handler checks the
      button's status again in its own statement, so a button made inactive meanwhile still orders nothing
      (a press answered from its mirrored order in flight, see ``ButtonMirror``, orders nothing either).
    - A live partner's id and webhook secrets, by API key, for ``partner_ttl`` seconds (5). A request whose
      signature matches none of the kept secrets reads them again (``partner_by_key(..., fresh=True)``), so a
      secret just added works at once; revoking a partner, or retiring one of its secrets, takes effect in
      every process within ``partner_ttl`` seconds. Unknown keys are never kept.
    - That a live partner's active device has a slot (``slot_accepting``), for ``partner_ttl`` seconds: what a
      slot report answered at once and applied later checks before it is queued. A device deregistered within
      that time may still have a report queued; the worker applying it drops it. Unknown slots are not kept.
    Device tokens are not kept: deregistration revokes one at once."""

    _BUTTON = select(t.buttons.c.secret, t.buttons.c.status).where(t.buttons.c.serial == bindparam("serial"))
    _PARTNER = select(t.partners.c.id, t.partners.c.webhook_secrets).where(
        t.partners.c.api_key_hash == bindparam("key_hash"), t.partners.c.revoked_at.is_(None))
    _DEVICE_TOKEN = (select(_d.c.id, t.partners.c.id, t.partners.c.webhook_secrets)
                     .join_from(_d, t.partners, t.partners.c.id == _d.c.partner_id)
                     .where(_d.c.token_hash == bindparam("token_hash"), _d.c.status == "active",
                            t.partners.c.revoked_at.is_(None)))
    _SLOT = (select(_s.c.id).join_from(_s, _d, _d.c.id == _s.c.device_id)
             .where(_d.c.id == bindparam("device_id"), _d.c.partner_id == bindparam("partner_id"),
                    _d.c.status == "active", _s.c.slot_id == bindparam("slot_id")))

    def __init__(self, engine, ttl: float = 60.0, max_items: int = 10_000, partner_ttl: float = 5.0):
        self.engine = autocommit_engine(engine)
        self.ttl = ttl
        self.partner_ttl = partner_ttl
        self.max_items = max_items
        self._secrets: dict[str, tuple[float, str]] = {}
        self._partners: dict[str, tuple[float, str, list[str]]] = {}
        self._slots: dict[tuple[str, str, str], float] = {}

    def _first(self, stmt, params: dict):
        with self.engine.connect() as conn:
            return conn.execute(stmt, params).first()

    def button_secret(self, serial: str) -> tuple[str, str] | None:
        """(secret, status) of a button."""
        now = time.monotonic()
        cached = self._secrets.get(serial)
        if cached is not None and now - cached[0] < self.ttl:
            return cached[1], "active"
        row = self._first(self._BUTTON, {"serial": serial})
        if row is None:
            return None
        if row[1] == "active":
            if len(self._secrets) >= self.max_items:
                self._secrets.clear()
            self._secrets[serial] = (now, row[0])
        return row[0], row[1]

    def partner_by_key(self, api_key: str, *, fresh: bool = False) -> tuple[str, list[str]] | None:
        """(partner id, webhook secrets) of the live partner with this API key, as read at most
        ``partner_ttl`` seconds ago (``fresh``: read now)."""
        key_hash = hash_secret(api_key)
        now = time.monotonic()
        cached = None if fresh else self._partners.get(key_hash)
        if cached is not None and now - cached[0] < self.partner_ttl:
            return cached[1], cached[2]
        row = self._first(self._PARTNER, {"key_hash": key_hash})
        if row is None:
            self._partners.pop(key_hash, None)
            return None
        found = (row[0], list(row[1] or []))
        if len(self._partners) >= self.max_items:
            self._partners.clear()
        self._partners[key_hash] = (now, *found)
        return found

    def slot_accepting(self, partner_id: str, device_id: str, slot_id: str) -> bool:
        """Whether the partner's device is active and has this slot, as read at most ``partner_ttl`` seconds
        ago (only a yes is kept)."""
        key = (partner_id, device_id, slot_id)
        now = time.monotonic()
        seen = self._slots.get(key)
        if seen is not None and now - seen < self.partner_ttl:
            return True
        if self._first(self._SLOT, {"partner_id": partner_id, "device_id": device_id, "slot_id": slot_id}) is None:
            self._slots.pop(key, None)
            return False
        if len(self._slots) >= self.max_items:
            self._slots.clear()
        self._slots[key] = now
        return True

    def device_by_token(self, token: str) -> tuple[str, str, list[str]] | None:
        """(device id, partner id, the partner's webhook secrets) for an active device's token whose partner
        is live; read every time."""
        row = self._first(self._DEVICE_TOKEN, {"token_hash": hash_secret(token)})
        return (row[0], row[1], list(row[2] or [])) if row else None


class WebhookLog:
    """The delivery log: one row per (partner, event); attempts and outcomes are updated in place."""

    def __init__(self, session: Session):
        self.session = session

    def add(self, partner_id: str, event_key: str, event_type: str, url: str, payload: dict,
            now: datetime, delivery_id: str | None = None) -> str | None:
        """The new delivery's id, or None when this event already has one for this partner."""
        exists = self.session.execute(select(t.webhook_deliveries.c.id).where(
            t.webhook_deliveries.c.partner_id == partner_id, t.webhook_deliveries.c.event_key == event_key)).first()
        if exists:
            return None
        delivery_id = delivery_id or new_id()
        self.session.execute(insert(t.webhook_deliveries).values(
            id=delivery_id, partner_id=partner_id, event_key=event_key, event_type=event_type, url=url,
            payload=payload, status="pending", attempts=0, created_at=now))
        return delivery_id

    def get(self, delivery_id: str):
        return self.session.execute(select(t.webhook_deliveries).where(
            t.webhook_deliveries.c.id == delivery_id)).first()

    def record_attempt(self, delivery_id: str, now: datetime, *, status: str, status_code: int | None,
                       error: str | None) -> None:
        values = dict(status=status, attempts=t.webhook_deliveries.c.attempts + 1, last_status_code=status_code,
                      last_error=(error or None) and error[:2000], last_attempt_at=now)
        if status == "delivered":
            values["delivered_at"] = now
        self.session.execute(update(t.webhook_deliveries).where(t.webhook_deliveries.c.id == delivery_id)
                             .values(**values))

    def for_partner(self, partner_id: str, limit: int = 100) -> list:
        return list(self.session.execute(select(t.webhook_deliveries).where(
            t.webhook_deliveries.c.partner_id == partner_id).order_by(t.webhook_deliveries.c.created_at.desc())
            .limit(limit)))

    def pending(self, limit: int = 500) -> list[str]:
        return list(self.session.scalars(select(t.webhook_deliveries.c.id).where(
            t.webhook_deliveries.c.status == "pending").order_by(t.webhook_deliveries.c.created_at).limit(limit)))
