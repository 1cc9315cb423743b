"""Tables for buttons, partners, devices, slots and webhook deliveries, and their imperative mapping."""
from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import relationship

from replenish.adapters.orm import UTCDateTime, mapper_registry, metadata
from replenish.devices.domain import model as devices

partners = Table(
    "partners", metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("webhook_url", Text, nullable=False, default=""),
    Column("api_key_hash", String(64), nullable=True, unique=True),  # unused: partners sign with their keys
    # HMAC needs the secrets themselves; several are valid at once while a partner rotates.
    Column("webhook_secrets", JSON, nullable=False, default=list),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("test_mode", Boolean, nullable=False, default=False, server_default=false()),  # every order a test
)

# A partner's request-signing keys (RFC 9421 ``keyid`` -> HMAC secret); several live at once while it rotates.
partner_keys = Table(
    "partner_keys", metadata,
    Column("id", String(64), primary_key=True),
    Column("partner_id", String(32), ForeignKey("partners.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("secret", String(128), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
)

# Every signed request accepted in the signature tolerance window, by (keyid, nonce): a replay is recognised here
# whatever Redis knows, and an exact replay is answered with the response kept with it.
signed_requests = Table(
    "signed_requests", metadata,
    Column("key_id", String(64), primary_key=True),
    Column("nonce", String(128), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("body", LargeBinary, nullable=True),
    Index("ix_signed_requests_created", "created_at"),
)

buttons = Table(
    "buttons", metadata,
    Column("serial", String(64), primary_key=True),
    Column("household_id", String(64), ForeignKey("households.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("sku", String(64), nullable=True),
    Column("category", String(200), nullable=True),
    Column("quantity", Integer, nullable=False, default=1),
    Column("secret", String(128), nullable=False),
    Column("status", String(16), nullable=False, default="active"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_press_at", UTCDateTime, nullable=True),
    Column("battery", String(16), nullable=True),
    Column("battery_low_at", UTCDateTime, nullable=True),
    Column("action", String(8), nullable=False, default="order", server_default="order"),
)

link_codes = Table(
    "device_link_codes", metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("household_id", String(64), ForeignKey("households.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
    Column("device_id", String(32), nullable=True),
)

devices_table = Table(
    "devices", metadata,
    Column("id", String(32), primary_key=True),
    Column("partner_id", String(32), ForeignKey("partners.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("household_id", String(64), ForeignKey("households.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("external_id", String(128), nullable=False),
    Column("model", String(128), nullable=False, default=""),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=True),
    Column("deregistered_at", UTCDateTime, nullable=True),
    Column("token_hash", String(64), nullable=True, unique=True),
    Column("secret", String(128), nullable=True),  # signs the device's own requests (keyid: the device id)
    Column("test", Boolean, nullable=False, default=False, server_default=false()),  # its orders are tests
    # "<partner>:<external id>" while registered: one live registration per physical device.
    Column("active_key", String(200), nullable=True, unique=True),
)

slots = Table(
    "device_slots", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", String(32), ForeignKey("devices.id", ondelete="CASCADE"), nullable=False),
    Column("slot_id", String(64), nullable=False),
    Column("products", JSON, nullable=False),
    Column("sku", String(64), nullable=False),
    Column("capacity", Float, nullable=False),
    Column("unit", String(32), nullable=False, default="count"),
    Column("threshold", Float, nullable=False),
    Column("target", Float, nullable=False),
    Column("mode", String(16), nullable=False, default="auto"),
    Column("remaining", Float, nullable=True),
    Column("original", Float, nullable=True),
    Column("on_hand", Float, nullable=True),
    Column("expected_replenishment", UTCDateTime, nullable=True),
    Column("last_use_at", UTCDateTime, nullable=True),
    Column("reported_at", UTCDateTime, nullable=True),
    Column("history", JSON, nullable=False, default=list),
    Column("notified_at", UTCDateTime, nullable=True),
    Column("debounce", Integer, nullable=False, default=2, server_default="2"),
    Column("low_streak", Integer, nullable=False, default=0, server_default="0"),
    UniqueConstraint("device_id", "slot_id", name="uq_device_slots_device_slot"),
)

webhook_deliveries = Table(
    "webhook_deliveries", metadata,
    Column("id", String(32), primary_key=True),
    Column("partner_id", String(32), ForeignKey("partners.id", ondelete="CASCADE"), nullable=False),
    Column("event_key", String(200), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("url", Text, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_attempt_at", UTCDateTime, nullable=True),
    Column("delivered_at", UTCDateTime, nullable=True),
    # An event redelivered by the queue makes one delivery per partner, never two.
    UniqueConstraint("partner_id", "event_key", name="uq_webhook_deliveries_partner_event"),
    Index("ix_webhook_deliveries_status_created", "status", "created_at"),
)

_mapped = False


def start_mappers() -> None:
    """The feature's classes mapped onto its tables, once per process (bootstrap calls it)."""
    global _mapped
    if _mapped:
        return
    _mapped = True
    mapper_registry.map_imperatively(devices.PartnerKey, partner_keys)
    mapper_registry.map_imperatively(devices.Partner, partners, properties={
        "keys": relationship(devices.PartnerKey, cascade="all, delete-orphan", lazy="selectin",
                             order_by=partner_keys.c.created_at),
    })
    mapper_registry.map_imperatively(devices.Button, buttons)
    mapper_registry.map_imperatively(devices.LinkCode, link_codes, exclude_properties=["code"])
    mapper_registry.map_imperatively(devices.Slot, slots, properties={"_id": slots.c.id})
    mapper_registry.map_imperatively(devices.Device, devices_table, properties={
        "slots": relationship(devices.Slot, cascade="all, delete-orphan", lazy="selectin", order_by=slots.c.id),
    })
