"""Finding buttons, partners, devices, link codes, signing keys and webhook deliveries in the database."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from cachetools import TTLCache
from sqlalchemy import Select, insert, literal, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from replenish.adapters import orm as core_orm
from replenish.devices.adapters import orm as t
from replenish.devices.domain import model as devices
from replenish.domain.model import hash_secret, new_id


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

    # -- partners --------------------------------------------------------------------------------------
    def add_partner(self, partner: devices.Partner) -> None:
        self.session.add(partner)

    def partner(self, partner_id: str) -> devices.Partner | None:
        return self.session.get(devices.Partner, partner_id)

    def partner_key(self, key_id: str) -> devices.PartnerKey | None:
        return self.session.get(devices.PartnerKey, key_id)

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

    def device_with_slot(self, device_id: str, slot_id: str) -> tuple[devices.Device, devices.Slot] | None:
        """The device and its slot, the slot's row locked until the unit of work ends: reports of one slot are
        applied one after the other, each to the latest state. None when the device has no such slot."""
        locked = self.session.scalars(select(devices.Slot).join_from(devices.Slot, devices.Device, t.slots.c.device_id
                                                                     == t.devices_table.c.id)
                                      .where(t.slots.c.device_id == device_id, t.slots.c.slot_id == slot_id)
                                      .with_for_update(of=t.slots)).first()
        if locked is None:
            return None
        device = self.session.get(devices.Device, device_id)
        if device is None:  # the slot's row was found joined to it: only a device deleted meanwhile
            return None
        return device, locked

    def test_orders(self, partner_id: str, limit: int = 100) -> list[str]:
        """Ids of the test orders in flight for the partner's devices, newest first."""
        o, d = core_orm.orders, t.devices_table
        stmt = (select(o.c.id).join(d, o.c.source_id.like(literal("slot:") + d.c.id + literal(":%")))
                .where(d.c.partner_id == partner_id, o.c.test.is_(True), o.c.active_key.is_not(None))
                .order_by(o.c.created_at.desc()).limit(limit))
        return list(self.session.scalars(stmt))

    def active_device(self, partner_id: str, external_id: str) -> devices.Device | None:
        key = devices.Device.partner_key(partner_id, external_id)
        return self.session.scalars(select(devices.Device).where(t.devices_table.c.active_key == key)).first()

    def devices_for(self, household_id: str) -> list[devices.Device]:
        return list(self.session.scalars(select(devices.Device).where(
            t.devices_table.c.household_id == household_id).order_by(t.devices_table.c.created_at)))



class DeviceLookups:
    """The reads that authenticate a signed request (which secret a ``keyid`` signs with, and whose it is) before
    any unit of work starts, kept in this process a few seconds: a revoked key, a retired button or a
    deregistered device stops verifying within ``ttl`` seconds everywhere, and the handlers check the button's and
    the device's status again in their own unit of work, so nothing is ordered for one meanwhile. Unknown keys are
    never kept (a key made a moment ago works at once)."""

    _PARTNER_KEY = (select(t.partner_keys.c.secret, t.partner_keys.c.partner_id)
                    .join_from(t.partner_keys, t.partners, t.partners.c.id == t.partner_keys.c.partner_id)
                    .where(t.partner_keys.c.revoked_at.is_(None), t.partners.c.revoked_at.is_(None)))
    _DEVICE_KEY = (select(t.devices_table.c.secret, t.devices_table.c.partner_id)
                   .join_from(t.devices_table, t.partners, t.partners.c.id == t.devices_table.c.partner_id)
                   .where(t.devices_table.c.status == "active", t.devices_table.c.secret.is_not(None),
                          t.partners.c.revoked_at.is_(None)))

    def __init__(self, engine: Engine, ttl: float = 5.0, max_items: int = 100_000,
                 timer: Callable[[], float] = time.monotonic):
        self.engine = engine
        self._kept: TTLCache[tuple[str, str], tuple[str, str]] = TTLCache(maxsize=max_items, ttl=ttl, timer=timer)
        self._lock = threading.Lock()

    def _first(self, kind: str, key: str, stmt: Select[str, str]) -> tuple[str, str] | None:
        with self._lock:
            found = self._kept.get((kind, key))
        if found is not None:
            return found
        with self.engine.connect() as conn:
            row = conn.execute(stmt).first()
        if row is None:
            return None
        found = (row[0], row[1])
        with self._lock:
            self._kept[(kind, key)] = found
        return found

    def button_key(self, serial: str) -> tuple[str, str] | None:
        """(secret, household id) of an active button."""
        return self._first("button", serial, select(t.buttons.c.secret, t.buttons.c.household_id).where(
            t.buttons.c.serial == serial, t.buttons.c.status == "active"))

    def partner_key(self, key_id: str) -> tuple[str, str] | None:
        """(secret, partner id) of a live key of a live partner."""
        return self._first("partner", key_id, self._PARTNER_KEY.where(t.partner_keys.c.id == key_id))

    def device_key(self, device_id: str) -> tuple[str, str] | None:
        """(secret, partner id) of an active device of a live partner."""
        return self._first("device", device_id, self._DEVICE_KEY.where(t.devices_table.c.id == device_id))

    def forget(self) -> None:
        with self._lock:
            self._kept.clear()


class WebhookLog:
    """The delivery log: one row per (partner, event); attempts and outcomes are updated in place."""

    def __init__(self, session: Session):
        self.session = session

    def add(self, partner_id: str, event_key: str, event_type: str, url: str, payload: dict[str, Any],
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

    def get(self, delivery_id: str) -> core_orm.AnyRow | None:
        return self.session.execute(select(t.webhook_deliveries).where(
            t.webhook_deliveries.c.id == delivery_id)).first()

    def record_attempt(self, delivery_id: str, now: datetime, *, status: str, status_code: int | None,
                       error: str | None) -> None:
        values: dict[str, Any] = dict(status=status, attempts=t.webhook_deliveries.c.attempts + 1,
                                      last_status_code=status_code, last_error=(error or None) and error[:2000],
                                      last_attempt_at=now)
        if status == "delivered":
            values["delivered_at"] = now
        self.session.execute(update(t.webhook_deliveries).where(t.webhook_deliveries.c.id == delivery_id)
                             .values(**values))

    def for_partner(self, partner_id: str, limit: int = 100) -> list[core_orm.AnyRow]:
        return list(self.session.execute(select(t.webhook_deliveries).where(
            t.webhook_deliveries.c.partner_id == partner_id).order_by(t.webhook_deliveries.c.created_at.desc())
            .limit(limit)))

    def pending(self, limit: int = 500) -> list[str]:
        return list(self.session.scalars(select(t.webhook_deliveries.c.id).where(
            t.webhook_deliveries.c.status == "pending").order_by(t.webhook_deliveries.c.created_at).limit(limit)))
