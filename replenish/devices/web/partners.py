"""The partner (appliance maker) API, shaped like Amazon's Dash Replenishment API, and the household's side
of device linking.

Every partner request is signed (RFC 9421, see ``signatures``) with one of the partner's keys (keyid ``pk_...``)
or, on a device's own routes, with that device's key (keyid: the device id)."""
from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from flask import Blueprint, g, jsonify
from http_message_signatures import InvalidSignature
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from replenish.devices.domain import commands as dc
from replenish.devices.services import handlers as device_handlers
from replenish.devices.web import common
from replenish.web.auth import container, json_body, require_household
from replenish.web.errors import ApiError
from replenish.web.openapi import operation

bp = Blueprint("partners", __name__, url_prefix="/v1")
log = logging.getLogger(__name__)

Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64,
                                      pattern=r"^[A-Za-z0-9._:\-]+$")]
Quantity = Annotated[float, Field(ge=0, le=1_000_000, allow_inf_nan=False)]


class SlotIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slot_id: Id
    products: list[Id] = Field(min_length=1, max_length=20)
    capacity: Annotated[float, Field(gt=0, le=1_000_000, allow_inf_nan=False)]
    unit: Annotated[str, StringConstraints(min_length=1, max_length=32)] = "count"
    threshold: Quantity | None = None
    target: Quantity | None = None
    mode: Literal["auto", "notify"] = "auto"
    sku: Id | None = None
    debounce: int = Field(default=2, ge=1, le=10, strict=True)


class RegisterDeviceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    link_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=4, max_length=32)]
    device_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
    model: Annotated[str, StringConstraints(max_length=128)] = ""
    slots: list[SlotIn] = Field(min_length=1, max_length=16)
    test: bool = False  # a test device: its orders are test orders, never sent to the store


class SlotStatusIn(BaseModel):
    """The fields of DRS slotStatus, or a usage report (``consumed``, as Alexa.InventoryUsageSensor reports), and
    the unit they are in when it is not the slot's."""
    model_config = ConfigDict(extra="forbid")
    remainingQuantityInUnit: Quantity | None = None
    consumed: Annotated[float, Field(gt=0, le=1_000_000, allow_inf_nan=False)] | None = None
    unit: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)] | None = None
    originalQuantityInUnit: Quantity | None = None
    totalQuantityOnHand: Quantity | None = None
    expectedReplenishmentDate: AwareDatetime | None = None
    lastUseDate: AwareDatetime | None = None


    @model_validator(mode="after")
    def level_or_usage(self):
        if (self.remainingQuantityInUnit is None) == (self.consumed is None):
            raise ValueError("give either 'remainingQuantityInUnit' (the level) or 'consumed' (what was used)")
        return self


class HeartbeatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mostRecentlyActiveDate: AwareDatetime | None = None


class ConfigureSlotIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["auto", "notify"] | None = None
    sku: Id | None = None
    threshold: Quantity | None = None
    target: Quantity | None = None
    debounce: int | None = Field(default=None, ge=1, le=10, strict=True)


class EmptyIn(BaseModel):
    """No body, or an empty JSON object."""
    model_config = ConfigDict(extra="forbid")


# -- what the views answer ------------------------------------------------------------------------------------
class SlotStatusOut(BaseModel):
    remainingQuantityInUnit: float | None
    originalQuantityInUnit: float | None
    totalQuantityOnHand: float | None
    expectedReplenishmentDate: str | None
    lastUseDate: str | None
    reportedAt: str | None


class SlotOut(BaseModel):
    """A slot"""
    slot_id: str
    products: list[str]
    sku: str
    capacity: float
    unit: str
    threshold: float | None
    target: float | None
    mode: Literal["auto", "notify"]
    debounce: int
    status: SlotStatusOut


class DeviceOut(BaseModel):
    """A device and its slots"""
    device_id: str
    external_id: str
    partner_id: str
    household_id: str
    model: str
    status: str
    created_at: str | None
    last_seen_at: str | None
    deregistered_at: str | None
    test: bool
    slots: list[SlotOut]


class RegisteredDeviceOut(DeviceOut):
    """The device registered: its own signing key (keyid: its id), the secret shown this once"""
    key_id: str
    secret: str


class DevicesOut(BaseModel):
    """The household's devices"""
    devices: list[DeviceOut]


class LinkCodeOut(BaseModel):
    """A link code for a partner's device"""
    code: str
    expires_at: str | None


class DeregisteredOut(BaseModel):
    """The device deregistered, and the orders cancelled with it"""
    device_id: str
    status: str
    cancelled_orders: list[Any]


class HeartbeatOut(BaseModel):
    """Seen"""
    device_id: str
    last_seen_at: str | None


class SlotSubscription(BaseModel):
    subscribed: bool
    mode: str
    productInfo: list[dict[str, Any]]


class SubscriptionOut(BaseModel):
    """Which slots replenish, and with which product (DRS subscriptionInfo)"""
    slotsSubscriptionStatus: dict[str, bool]
    slots: dict[str, SlotSubscription]


class OrderLineOut(BaseModel):
    sku: str
    title: str
    quantity: int


class DeviceOrderOut(BaseModel):
    slot_id: str
    order_id: str
    status: str
    lines: list[dict[str, Any]]
    created_at: str | None
    expected_delivery: str | None


class DeviceOrdersOut(BaseModel):
    """Orders for the device's slots, newest first (DRS orderInfo)"""
    orders: list[DeviceOrderOut]


class PartnerOrderOut(BaseModel):
    """An order for one of the partner's devices (DRS getOrderInfo)"""
    order_id: str
    device_id: str
    external_id: str
    slot_id: str
    status: str
    test: bool
    detailCode: str
    lines: list[OrderLineOut]
    created_at: str | None
    submitted_at: str | None
    shipped_at: str | None
    delivered_at: str | None
    cancelled_at: str | None
    failure_reason: str | None
    tracking_url: str | None
    expected_delivery: str | None
    can_cancel: bool


class PartnerOrdersOut(BaseModel):
    """The partner's test orders in flight"""
    orders: list[PartnerOrderOut]


class Decision(BaseModel):
    action: str
    reason: str | None
    packs: int | None
    predicted_runout: str | None


class SlotOrder(BaseModel):
    status: str
    order_id: str | None = None
    test: bool | None = None
    reason: str | None = None
    code: str | None = None


class SlotReportOut(BaseModel):
    """The slot, the policy's decision, and the order placed or in flight"""
    slot: SlotOut
    fresh: bool
    decision: Decision
    order: SlotOrder | None


class ReplenishOut(BaseModel):
    """ORDER_PLACED or ORDER_IN_PROGRESS (TEST_ for a test device)"""
    detailCode: str
    eventInstanceId: str
    order_id: str
    status: str
    test: bool


class DeliveryOut(BaseModel):
    id: str
    type: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: str | None
    delivered_at: str | None


class DeliveriesOut(BaseModel):
    """The webhook delivery log"""
    deliveries: list[DeliveryOut]


class KeyOut(BaseModel):
    """A signing key"""
    key_id: str
    created_at: str | None
    revoked_at: str | None


class NewKeyOut(KeyOut):
    """The new signing key, its secret shown this once"""
    secret: str


class KeysOut(BaseModel):
    """The partner's signing keys"""
    keys: list[KeyOut]


class WebhookSecretsOut(BaseModel):
    """The webhook secrets now live"""
    partner_id: str
    added: str | None
    active_secrets: int


DEVICE = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": r"^[A-Za-z0-9]+$"}
SLOT = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": r"^[A-Za-z0-9._-]+$"}
DEVICE_SLOT = {"device_id": DEVICE, "slot_id": SLOT}


# -- partner authentication --------------------------------------------------------------------------------

def _resolver(device_id: str | None):
    """keyid -> (secret, (partner id, device scope)). A partner key (``pk_...``) works on every partner route;
    a device's own key (keyid: the device id) only on that device's routes (``device_id``)."""
    def resolve(key_id: str):
        lookups = common.lookups()
        if key_id.startswith("pk_"):
            found = lookups.partner_key(key_id)
            return (found[0], (found[1], None)) if found is not None else None
        found = lookups.device_key(key_id)
        if found is None:
            return None
        if key_id != device_id:
            raise InvalidSignature(f"keyid {key_id!r} is a device's key: it signs requests for that device only; "
                                   "use a partner key (pk_...) here.")
        return found[0], (found[1], key_id)
    return resolve


def _partner_call(call, device_id: str | None = None):
    """``call`` for a partner (or, on ``device_id``'s routes, that device) whose signature verifies: rate limited,
    answered once per nonce, ``Idempotency-Key`` honoured."""
    def limits_of(verified):
        g.partner_id, g.device_scope = verified.principal
        limits = [(f"partner:{g.partner_id}", "REPLENISH_PARTNER_RATE", "12000/60")]
        if device_id is not None:
            limits.append((f"device:{device_id}", "REPLENISH_DEVICE_RATE", "600/60"))
        return limits
    return common.signed(_resolver(device_id), call, limits_of)


def _when(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None


# -- partner routes ----------------------------------------------------------------------------------------

@bp.post("/partner/devices")
@operation("Register a device with a household's link code", {201: RegisteredDeviceOut}, body=RegisterDeviceIn,
           idempotent=True, errors=(404, 409, 422), auth="signature", tag="partners")
def register_device():
    def run():
        body = RegisterDeviceIn.model_validate(json_body())
        result = container().bus.handle(dc.RegisterDevice(
            g.partner_id, body.link_code, body.device_id, body.model,
            tuple(dc.SlotSpec(s.slot_id, tuple(s.products), s.capacity, s.unit, s.threshold, s.target, s.mode,
                              s.sku, s.debounce) for s in body.slots), test=body.test))
        return jsonify(result), 201
    return _partner_call(run)


@bp.get("/partner/devices/<device_id>")
@operation("A device and its slots", {200: DeviceOut}, path={"device_id": DEVICE}, auth="signature",
           tag="partners")
def get_device(device_id: str):
    return _partner_call(lambda: jsonify(device_handlers.get_device(g.partner_id, device_id, container().deps)),
                         device_id)


@bp.delete("/partner/devices/<device_id>")
@operation("Deregister: stops ordering, revokes the device's credentials", {200: DeregisteredOut}, errors=(422,),
           path={"device_id": DEVICE}, auth="signature", tag="partners")
def deregister_device(device_id: str):
    return _partner_call(lambda: jsonify(container().bus.handle(dc.DeregisterDevice(g.partner_id, device_id))),
                         device_id)


@bp.post("/partner/devices/<device_id>/heartbeat")
@operation("Device status (DRS deviceStatus)", {200: HeartbeatOut}, body=HeartbeatIn, body_required=False,
           idempotent=True, errors=(410, 422), path={"device_id": DEVICE}, auth="signature", tag="partners")
def heartbeat(device_id: str):
    def run():
        body = HeartbeatIn.model_validate(json_body())
        return jsonify(container().bus.handle(dc.Heartbeat(g.partner_id, device_id,
                                                           _when(body.mostRecentlyActiveDate))))
    return _partner_call(run, device_id)


@bp.get("/partner/devices/<device_id>/subscription")
@operation("Subscription info (DRS subscriptionInfo)", {200: SubscriptionOut}, errors=(410,),
           path={"device_id": DEVICE}, auth="signature", tag="partners")
def subscription(device_id: str):
    return _partner_call(lambda: jsonify(device_handlers.subscription_info(g.partner_id, device_id,
                                                                           container().deps)),
                         device_id)


@bp.get("/partner/devices/<device_id>/orders")
@operation("Orders for the device's slots (DRS orderInfo)", {200: DeviceOrdersOut}, path={"device_id": DEVICE},
           auth="signature", tag="partners")
def orders(device_id: str):
    return _partner_call(lambda: jsonify(device_handlers.order_info(g.partner_id, device_id, container().deps)),
                         device_id)


@bp.get("/partner/orders/<order_id>")
@operation("One order for one of the partner's devices (DRS getOrderInfo)", {200: PartnerOrderOut},
           path={"order_id": {"type": "string", "minLength": 1, "maxLength": 64}}, auth="signature", tag="partners")
def partner_order(order_id: str):
    """One order placed for one of the partner's devices (DRS getOrderInfo). A partner key only: a device asks
    for its own orders at ``/partner/devices/<id>/orders``."""
    if len(order_id) > 64:
        raise ApiError(404, "not_found", "No such order.", field="order_id")
    return _partner_call(lambda: jsonify(device_handlers.partner_order(g.partner_id, order_id, container().deps)))


@bp.get("/partner/test-orders")
@operation("The partner's test orders in flight (never sent to the store)", {200: PartnerOrdersOut},
           auth="signature", tag="partners")
def test_orders():
    """The partner's test orders in flight (DRS TEST_ORDER_PLACED): never sent to the store; cancel them to try
    again."""
    return _partner_call(lambda: jsonify(device_handlers.partner_test_orders(g.partner_id, container().deps)))


@bp.post("/partner/orders/<order_id>/cancel")
@operation("Cancel a test order", {200: PartnerOrderOut}, body=EmptyIn, body_required=False, idempotent=True,
           errors=(409, 422), path={"order_id": {"type": "string", "minLength": 1, "maxLength": 64}},
           auth="signature", tag="partners")
def cancel_test_order(order_id: str):
    """Cancels one of the partner's test orders (409 for a real order: that is the household's to cancel)."""
    if len(order_id) > 64:
        raise ApiError(404, "not_found", "No such order.", field="order_id")

    def run():
        json_body()
        return jsonify(container().bus.handle(dc.CancelTestOrder(g.partner_id, order_id)))
    return _partner_call(run)


@bp.post("/partner/devices/<device_id>/slots/<slot_id>/status")
@operation("Slot status (DRS slotStatus) or usage; may place or announce an order", {200: SlotReportOut},
           body=SlotStatusIn, idempotent=True, errors=(409, 410, 422), path=DEVICE_SLOT, auth="signature",
           tag="partners")
def slot_status(device_id: str, slot_id: str):
    """A slot status report, applied at once and answered with the slot and the policy's decision."""
    def run():
        body = SlotStatusIn.model_validate(json_body())
        return jsonify(container().bus.handle(dc.ReportSlotStatus(
            g.partner_id, device_id, slot_id, body.remainingQuantityInUnit, body.originalQuantityInUnit,
            body.totalQuantityOnHand, _when(body.expectedReplenishmentDate), _when(body.lastUseDate),
            unit=body.unit, consumed=body.consumed)))
    return _partner_call(run, device_id)


@bp.post("/partner/devices/<device_id>/slots/<slot_id>/replenish")
@operation("Replenish now: ORDER_PLACED or ORDER_IN_PROGRESS", {200: ReplenishOut}, body=EmptyIn,
           body_required=False, idempotent=True, errors=(409, 410, 422), path=DEVICE_SLOT, auth="signature",
           tag="partners")
def replenish(device_id: str, slot_id: str):
    def run():
        json_body()  # must be empty or a JSON object
        return jsonify(container().bus.handle(dc.Replenish(g.partner_id, device_id, slot_id)))
    return _partner_call(run, device_id)


@bp.get("/partner/webhooks")
@operation("The webhook delivery log", {200: DeliveriesOut}, auth="signature", tag="partners")
def webhook_log():
    def run():
        with container().uow() as uow:
            rows = uow.webhooks.for_partner(g.partner_id)
        return jsonify({"deliveries": [{"id": r.id, "type": r.event_type, "status": r.status,
                                        "attempts": r.attempts, "last_status_code": r.last_status_code,
                                        "last_error": r.last_error,
                                        "created_at": r.created_at.isoformat() if r.created_at else None,
                                        "delivered_at": r.delivered_at.isoformat() if r.delivered_at else None}
                                       for r in rows]})
    return _partner_call(run)


class RetireSecretIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    secret: Annotated[str, StringConstraints(min_length=1, max_length=200)]


@bp.post("/partner/webhook-secrets")
@operation("Add a webhook secret (rotation)", {201: WebhookSecretsOut}, body=EmptyIn, body_required=False,
           idempotent=True, errors=(422,), auth="signature", tag="partners")
def add_webhook_secret():
    """A new webhook secret: our webhooks are signed with every live one until the old one is retired."""
    def run():
        json_body()
        return jsonify(container().bus.handle(dc.RotateWebhookSecret(g.partner_id))), 201
    return _partner_call(run)


@bp.post("/partner/webhook-secrets/retire")
@operation("Retire a webhook secret", {200: WebhookSecretsOut}, body=RetireSecretIn, idempotent=True,
           errors=(404, 422), auth="signature", tag="partners")
def retire_webhook_secret():
    def run():
        body = RetireSecretIn.model_validate(json_body())
        return jsonify(container().bus.handle(dc.RotateWebhookSecret(g.partner_id, retire=body.secret)))
    return _partner_call(run)


@bp.get("/partner/keys")
@operation("The partner's signing keys", {200: KeysOut}, auth="signature", tag="partners")
def list_keys():
    return _partner_call(lambda: jsonify(device_handlers.partner_keys(g.partner_id, container().deps)))


@bp.post("/partner/keys")
@operation("A new signing key (its secret shown once)", {201: NewKeyOut}, body=EmptyIn, body_required=False,
           idempotent=True, errors=(422,), auth="signature", tag="partners")
def create_key():
    """A new signing key (its secret is shown once): sign with it, then revoke the old one."""
    def run():
        json_body()
        return jsonify(container().bus.handle(dc.CreatePartnerKey(g.partner_id))), 201
    return _partner_call(run)


@bp.delete("/partner/keys/<key_id>")
@operation("Revoke a signing key", {200: KeyOut}, errors=(409, 422),
           path={"key_id": {"type": "string", "minLength": 1, "maxLength": 64}}, auth="signature", tag="partners")
def revoke_key(key_id: str):
    def run():
        result = container().bus.handle(dc.RevokePartnerKey(g.partner_id, key_id))
        common.lookups().forget()
        return jsonify(result)
    return _partner_call(run)


# -- household routes --------------------------------------------------------------------------------------

@bp.post("/devices/link-codes")
@operation("A short code a partner's device joins the household with", {201: LinkCodeOut}, body=EmptyIn,
           body_required=False, idempotent=True, errors=(422,), tag="devices")
@require_household
@common.idempotent(lambda: f"household:{g.household_id}")
def create_link_code():
    json_body()
    return jsonify(container().bus.handle(dc.CreateLinkCode(g.household_id))), 201


@bp.get("/devices")
@operation("The household's devices", {200: DevicesOut}, tag="devices")
@require_household
def list_devices():
    from replenish.devices.services.views import device_view
    with container().uow() as uow:
        return jsonify({"devices": [device_view(d) for d in uow.devices.devices_for(g.household_id)]})


@bp.patch("/devices/<device_id>/slots/<slot_id>")
@operation("Choose a slot's product, mode, threshold or target", {200: SlotOut}, body=ConfigureSlotIn,
           errors=(410, 422), path=DEVICE_SLOT, tag="devices")
@require_household
def configure_slot(device_id: str, slot_id: str):
    body = ConfigureSlotIn.model_validate(json_body())
    return jsonify(container().bus.handle(dc.ConfigureSlot(g.household_id, device_id, slot_id, body.mode, body.sku,
                                                           body.threshold, body.target, body.debounce)))


@bp.delete("/devices/<device_id>")
@operation("Remove a device", {200: DeregisteredOut}, errors=(410, 422), path={"device_id": DEVICE},
           tag="devices")
@require_household
def remove_device(device_id: str):
    return jsonify(container().bus.handle(dc.DeregisterDevice(None, device_id, g.household_id,
                                                              "removed by household")))
