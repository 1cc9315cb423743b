"""The partner (appliance maker) API, shaped like Amazon's Dash Replenishment API, and the household's side
of device linking.

Partners authenticate with ``Authorization: Bearer <partner api key>`` (or a device's own token) and sign
mutating calls with one of their webhook secrets (``X-Replenish-Signature``)."""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Annotated, Literal

from flask import Blueprint, g, jsonify, request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from replenish.domain import device_commands as dc
from replenish.services import device_handlers

from . import device_common as common
from .auth import bearer_token, container, json_body, require_household
from .errors import ApiError

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


class RegisterDeviceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    link_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=4, max_length=32)]
    device_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
    model: Annotated[str, StringConstraints(max_length=128)] = ""
    slots: list[SlotIn] = Field(min_length=1, max_length=16)


class SlotStatusIn(BaseModel):
    """The fields of DRS slotStatus."""
    model_config = ConfigDict(extra="forbid")
    remainingQuantityInUnit: Quantity
    originalQuantityInUnit: Quantity | None = None
    totalQuantityOnHand: Quantity | None = None
    expectedReplenishmentDate: AwareDatetime | None = None
    lastUseDate: AwareDatetime | None = None


class HeartbeatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mostRecentlyActiveDate: AwareDatetime | None = None


class ConfigureSlotIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["auto", "notify"] | None = None
    sku: Id | None = None
    threshold: Quantity | None = None
    target: Quantity | None = None


# -- partner authentication --------------------------------------------------------------------------------

def _authenticate() -> None:
    token = bearer_token()
    if token and len(token) <= 200:
        lookups = common.lookups()
        found = lookups.partner_by_key(token)  # the usual caller: kept a few seconds (see DeviceLookups)
        if found is not None:
            g.partner_id, g.partner_secrets, g.device_scope, g.partner_key = found[0], found[1], None, token
            return
        device = lookups.device_by_token(token)  # a device's own token: one statement, read every time
        if device is not None:
            g.device_scope, g.partner_id, g.partner_secrets, g.partner_key = *device, None
            return
    raise ApiError(401, "unauthorized", "A partner API key is required (Authorization: Bearer <key>).",
                   field="Authorization", headers={"WWW-Authenticate": 'Bearer realm="replenish-partners"'})


def _fresh_secrets() -> list[str]:
    """The partner's webhook secrets read now: for a signature that none of the kept ones verifies (a secret
    added a moment ago)."""
    if g.partner_key is None:
        return []
    found = common.lookups().partner_by_key(g.partner_key, fresh=True)
    return found[1] if found is not None and found[0] == g.partner_id else []


def _device_allowed(device_id: str) -> None:
    if g.device_scope is not None and g.device_scope != device_id:
        raise ApiError(404, "not_found", f"No device {device_id!r}.", field="device_id")


def _partner_call(call, device_id: str | None = None, mutating: bool = True, guards_itself=False):
    """``call`` for an authenticated partner, rate limited, and for a mutating call signed (replay refused,
    ``Idempotency-Key`` honoured). ``guards_itself`` (or a callable asked once the partner is known): see
    ``device_common.signed``."""
    _authenticate()
    limits = [(f"partner:{g.partner_id}", "REPLENISH_PARTNER_RATE", "12000/60")]
    if device_id is not None:
        _device_allowed(device_id)
        limits.append((f"device:{device_id}", "REPLENISH_DEVICE_RATE", "600/60"))
    if not mutating:
        common.guard(limits)  # the partner's limit, then the device's: one round trip
        return call()
    # signed calls: limits and replay refusal together, once the signature is known good
    if callable(guards_itself):
        guards_itself = guards_itself()
    return common.signed(f"partner:{g.partner_id}", g.partner_secrets, call, limits=limits,
                         fresh_secrets=_fresh_secrets, guards_itself=guards_itself)


def _when(value: datetime | None) -> datetime | None:
    return value.astimezone(timezone.utc) if value is not None else None


# -- partner routes ----------------------------------------------------------------------------------------

@bp.post("/partner/devices")
def register_device():
    def run():
        body = RegisterDeviceIn.model_validate(json_body())
        result = container().bus.handle(dc.RegisterDevice(
            g.partner_id, body.link_code, body.device_id, body.model,
            tuple(dc.SlotSpec(s.slot_id, tuple(s.products), s.capacity, s.unit, s.threshold, s.target, s.mode,
                              s.sku) for s in body.slots)))
        return jsonify(result), 201
    return _partner_call(run)


@bp.get("/partner/devices/<device_id>")
def get_device(device_id: str):
    return _partner_call(lambda: jsonify(device_handlers.get_device(g.partner_id, device_id, container().deps)),
                         device_id, mutating=False)


@bp.delete("/partner/devices/<device_id>")
def deregister_device(device_id: str):
    return _partner_call(lambda: jsonify(container().bus.handle(dc.DeregisterDevice(g.partner_id, device_id))),
                         device_id)


@bp.post("/partner/devices/<device_id>/heartbeat")
def heartbeat(device_id: str):
    def run():
        body = HeartbeatIn.model_validate(json_body())
        return jsonify(container().bus.handle(dc.Heartbeat(g.partner_id, device_id,
                                                           _when(body.mostRecentlyActiveDate))))
    return _partner_call(run, device_id)


@bp.get("/partner/devices/<device_id>/subscription")
def subscription(device_id: str):
    return _partner_call(lambda: jsonify(device_handlers.subscription_info(g.partner_id, device_id,
                                                                           container().deps)),
                         device_id, mutating=False)


@bp.get("/partner/devices/<device_id>/orders")
def orders(device_id: str):
    return _partner_call(lambda: jsonify(device_handlers.order_info(g.partner_id, device_id, container().deps)),
                         device_id, mutating=False)


def _preferences() -> set[str]:
    """The request's ``Prefer`` preferences (RFC 7240), lower-cased, without parameters (read once a request)."""
    found = g.get("preferences")
    if found is None:
        found = g.preferences = {part.split(";")[0].strip().lower().replace(" ", "")
                                 for header in request.headers.getlist("Prefer") for part in header.split(",")}
    return found


def _answers_at_once(device_id: str, slot_id: str) -> bool:
    """Whether a slot report is applied before it is answered: asked for with ``Prefer: return=representation``
    (the SDK's default), or when there is no queue (no Redis configured), or for a slot not known to be the
    partner's and accepting (so that the answer is the exact 404 or 410 of the synchronous path). Otherwise
    it is answered 202 once queued, as DRS slotStatus answers a bare 200: appliances report and move on."""
    if "return=representation" in _preferences() or container().slot_inbox is None:
        return True
    return not common.lookups().slot_accepting(g.partner_id, device_id, slot_id)


def _accept_report(device_id: str, slot_id: str, body: "SlotStatusIn", guard: common.Guard):
    """Checks the request's guard and queues the report for a worker to apply, in one Redis round trip, and
    answers 202. None when the queue (Redis) does not answer: the report is then applied at once (the guard
    could not be checked either, as for any request while Redis is down)."""
    c = container()
    try:
        decision, raised = c.slot_inbox.add_guarded(common.rates(), guard, g.partner_id, device_id, slot_id,
                                                    body.model_dump(mode="json", exclude_none=True), c.clock())
    except Exception as exc:
        log.warning("slot report queue unavailable, applying the report at once: %s", exc)
        return None
    common.enforce(decision)
    if raised:
        try:
            c.deps.queue.send("workers.tasks.apply_slot_reports")
        except Exception as exc:  # the broker: beat's periodic apply takes the report a little later
            log.warning("could not ask for slot reports to be applied: %s", exc)
    response = jsonify({"status": "accepted", "device_id": device_id, "slot_id": slot_id})
    response.status_code = 202
    if "respond-async" in _preferences():
        response.headers["Preference-Applied"] = "respond-async"
    return response


@bp.post("/partner/devices/<device_id>/slots/<slot_id>/status")
def slot_status(device_id: str, slot_id: str):
    """A slot status report: queued and answered 202 (see ``_answers_at_once``), or applied and answered with
    the slot and the policy's decision."""
    def run(guard: common.Guard | None = None):
        body = SlotStatusIn.model_validate(json_body())
        if guard is not None:  # queued: the guard is checked as the report is queued
            accepted = _accept_report(device_id, slot_id, body, guard)
            if accepted is not None:
                return accepted
        response = jsonify(container().bus.handle(dc.ReportSlotStatus(
            g.partner_id, device_id, slot_id, body.remainingQuantityInUnit, body.originalQuantityInUnit,
            body.totalQuantityOnHand, _when(body.expectedReplenishmentDate), _when(body.lastUseDate))))
        if "return=representation" in _preferences():
            response.headers["Preference-Applied"] = "return=representation"
        return response
    return _partner_call(run, device_id, guards_itself=lambda: not _answers_at_once(device_id, slot_id))


@bp.post("/partner/devices/<device_id>/slots/<slot_id>/replenish")
def replenish(device_id: str, slot_id: str):
    def run():
        json_body()  # must be empty or a JSON object
        return jsonify(container().bus.handle(dc.Replenish(g.partner_id, device_id, slot_id)))
    return _partner_call(run, device_id)


@bp.get("/partner/webhooks")
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
    return _partner_call(run, mutating=False)


@bp.post("/partner/webhook-secrets")
def add_webhook_secret():
    def run():
        json_body()
        return jsonify(container().bus.handle(dc.RotateWebhookSecret(g.partner_id))), 201
    return _partner_call(run)


# -- household routes --------------------------------------------------------------------------------------

@bp.post("/devices/link-codes")
@require_household
@common.idempotent(lambda: f"household:{g.household_id}")
def create_link_code():
    json_body()
    return jsonify(container().bus.handle(dc.CreateLinkCode(g.household_id))), 201


@bp.get("/devices")
@require_household
def list_devices():
    from replenish.services.device_views import device_view
    with container().uow() as uow:
        return jsonify({"devices": [device_view(d) for d in uow.devices.devices_for(g.household_id)]})


@bp.patch("/devices/<device_id>/slots/<slot_id>")
@require_household
def configure_slot(device_id: str, slot_id: str):
    body = ConfigureSlotIn.model_validate(json_body())
    return jsonify(container().bus.handle(dc.ConfigureSlot(g.household_id, device_id, slot_id, body.mode, body.sku,
                                                           body.threshold, body.target)))


@bp.delete("/devices/<device_id>")
@require_household
def remove_device(device_id: str):
    return jsonify(container().bus.handle(dc.DeregisterDevice(None, device_id, g.household_id,
                                                              "removed by household")))
