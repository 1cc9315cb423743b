"""Finding buttons, partners, devices, link codes and webhook deliveries in the database."""
from __future__ import annotations

import time
from datetime import datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session, contains_eager

from replenish.domain import devices
from replenish.domain.model import Order, hash_secret, new_id

from . import orm
from . import orm_devices as t


class DeviceRepository:
    """Buttons, partners, devices (with their slots) and link codes: one repository for the channel."""

    _IN_FLIGHT = select(orm.orders.c.id, orm.orders.c.status).where(orm.orders.c.active_key == bindparam("key"))

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

    def button_secret(self, serial: str) -> tuple[str, str] | None:
        """(secret, status) without loading the aggregate: the hot path of a press."""
        row = self.session.execute(select(t.buttons.c.secret, t.buttons.c.status)
                                   .where(t.buttons.c.serial == serial)).first()
        return (row.secret, row.status) if row else None

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

    def device_for_report(self, device_id: str) -> devices.Device | None:
        """The device and its slots in one statement, the slot rows locked first (FOR UPDATE): reports for a
        device are serialised (each updates the device's row anyway) and what is read is the latest state."""
        stmt = (select(devices.Device).join(t.slots, t.slots.c.device_id == t.devices_table.c.id)
                .options(contains_eager(devices.Device.slots)).where(t.devices_table.c.id == device_id)
                .order_by(t.slots.c.id).with_for_update(of=t.slots))
        return self.session.scalars(stmt).unique().first()

    def device_by_token(self, token: str) -> devices.Device | None:
        return self.session.scalars(select(devices.Device).where(
            t.devices_table.c.token_hash == hash_secret(token))).first()

    def active_device(self, partner_id: str, external_id: str) -> devices.Device | None:
        key = devices.Device.partner_key(partner_id, external_id)
        return self.session.scalars(select(devices.Device).where(t.devices_table.c.active_key == key)).first()

    def devices_for(self, household_id: str) -> list[devices.Device]:
        return list(self.session.scalars(select(devices.Device).where(
            t.devices_table.c.household_id == household_id).order_by(t.devices_table.c.created_at)))

    def order_in_flight(self, household_id: str, source_id: str) -> tuple[str, str] | None:
        """(order id, status) of the order in flight for an exclusive source, without loading the aggregate:
        the answer to most presses and reports. Placing still goes through the core, whose unique index on
        ``active_key`` is what enforces one order in flight."""
        row = self.session.execute(self._IN_FLIGHT, {"key": Order.source_key(household_id, source_id)}).first()
        return (row[0], row[1]) if row else None


class DeviceLookups:
    """Single-statement reads that authenticate a request before any unit of work starts. On PostgreSQL they
    run on an autocommit connection: one round trip, instead of BEGIN, SELECT and ROLLBACK.

    A button's secret never changes, so an active button's is kept for ``ttl`` seconds: the press handler
    checks the button's status again in its own transaction, so a button made inactive meanwhile still
    orders nothing."""

    _BUTTON = select(t.buttons.c.secret, t.buttons.c.status).where(t.buttons.c.serial == bindparam("serial"))
    _PARTNER = select(t.partners.c.id, t.partners.c.webhook_secrets).where(
        t.partners.c.api_key_hash == bindparam("key_hash"), t.partners.c.revoked_at.is_(None))

    def __init__(self, engine, ttl: float = 60.0, max_items: int = 10_000):
        if engine.dialect.name != "sqlite":  # SQLite has no round trips to save
            engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.engine = engine
        self.ttl = ttl
        self.max_items = max_items
        self._secrets: dict[str, tuple[float, str]] = {}

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

    def partner_by_key(self, api_key: str) -> tuple[str, list[str]] | None:
        """(partner id, webhook secrets) of the live partner with this API key; not kept, as secrets are
        retired and partners revoked."""
        row = self._first(self._PARTNER, {"key_hash": hash_secret(api_key)})
        return (row[0], list(row[1] or [])) if row else None


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
