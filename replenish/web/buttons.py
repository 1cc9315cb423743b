"""Dash-style buttons: pairing (household API) and signed presses in three event formats."""
from __future__ import annotations

import re
from dataclasses import replace
from typing import Annotated, Literal

from flask import Blueprint, g, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from replenish.adapters.button_mirror import PRESSES
from replenish.domain import device_commands as dc
from replenish.services.device_handlers import plain_press

from . import device_common as common
from .auth import container, json_body, require_household
from .errors import ApiError

bp = Blueprint("buttons", __name__)

Click = Literal["SINGLE", "DOUBLE", "LONG"]
Text64 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class RegisterButtonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: Text64 | None = None
    category: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None
    quantity: int = Field(default=1, ge=1, le=99, strict=True)

    @model_validator(mode="after")
    def one_of(self):
        if (self.sku is None) == (self.category is None):
            raise ValueError("give either 'sku' or 'category'")
        return self


class OurPress(BaseModel):
    """Our own format: ``{"click_type": "SINGLE", "battery_mv": 1500, "nonce": "..."}``."""
    model_config = ConfigDict(extra="forbid")
    click_type: Click = "SINGLE"
    battery_mv: int | None = Field(default=None, ge=0, le=10_000, strict=True)
    battery_percent: float | None = Field(default=None, ge=0, le=100)
    serial: Text64 | None = None
    nonce: Annotated[str, StringConstraints(max_length=128)] | None = None
    pressed_at: Annotated[str, StringConstraints(max_length=64)] | None = None


class IotButtonPress(BaseModel):
    """The AWS IoT Button event: ``{"serialNumber", "clickType", "batteryVoltage": "1705mV"}``."""
    model_config = ConfigDict(extra="allow")
    serialNumber: Text64
    clickType: Click
    batteryVoltage: Annotated[str, StringConstraints(max_length=16)] | None = None

    def battery_mv(self) -> int | None:
        if self.batteryVoltage is None:
            return None
        match = re.fullmatch(r"\s*(\d{1,5})\s*(mV)?\s*", self.batteryVoltage, re.IGNORECASE)
        if not match:
            raise ApiError(400, "invalid", "batteryVoltage looks like '1705mV'.", field="batteryVoltage")
        return int(match.group(1))


class ButtonClicked(BaseModel):
    model_config = ConfigDict(extra="allow")
    clickType: Click
    reportedTime: str | None = None


class DeviceEvent(BaseModel):
    model_config = ConfigDict(extra="allow")
    buttonClicked: ButtonClicked


class DeviceInfo(BaseModel):
    model_config = ConfigDict(extra="allow")
    deviceId: Text64
    remainingLife: float | None = Field(default=None, ge=0, le=100)


class OneClickPress(BaseModel):
    """The AWS IoT 1-Click event: ``deviceInfo.deviceId``, ``deviceEvent.buttonClicked.clickType``."""
    model_config = ConfigDict(extra="allow")
    deviceInfo: DeviceInfo
    deviceEvent: DeviceEvent


def parse_press(serial: str, data: dict) -> dc.PressButton:
    """Any of the three formats into one command; a serial in the body must match the URL's."""
    if "deviceEvent" in data or "deviceInfo" in data:
        event = OneClickPress.model_validate(data)
        named, click = event.deviceInfo.deviceId, event.deviceEvent.buttonClicked.clickType
        battery_mv, battery_percent = None, event.deviceInfo.remainingLife
    elif "clickType" in data or "serialNumber" in data:
        event = IotButtonPress.model_validate(data)
        named, click, battery_mv, battery_percent = event.serialNumber, event.clickType, event.battery_mv(), None
    else:
        event = OurPress.model_validate(data)
        named, click, battery_mv, battery_percent = event.serial, event.click_type, event.battery_mv, \
            event.battery_percent
    if named is not None and named != serial:
        raise ApiError(400, "serial_mismatch", "The event names another button than the URL.", field="serial")
    return dc.PressButton(serial, click, battery_mv, battery_percent)


@bp.post("/v1/buttons")
@require_household
@common.idempotent(lambda: f"household:{g.household_id}")
def register_button():
    body = RegisterButtonIn.model_validate(json_body())
    result = container().bus.handle(dc.RegisterButton(g.household_id, body.sku, body.category, body.quantity))
    return jsonify(result), 201


@bp.get("/v1/buttons")
@require_household
def list_buttons():
    from replenish.services.device_views import button_view, noted_presses
    with container().uow() as uow:
        buttons = uow.devices.buttons_for(g.household_id)
        noted = noted_presses(container().deps, buttons)
        return jsonify({"buttons": [button_view(b, noted.get(b.serial)) for b in buttons]})


@bp.post("/v1/buttons/<serial>/press")
def press(serial: str):
    if len(serial) > 64:
        raise ApiError(404, "not_found", "No such button.", field="serial")
    found = common.lookups().button_secret(serial)
    if found is None or found[1] != "active":
        raise ApiError(404, "not_found", "No such button.", field="serial")
    scope = f"button:{serial}"

    def run(guard: common.Guard):
        data = request.get_json(silent=True, force=True) if request.get_data(cache=True) else {}
        if not isinstance(data, dict):
            raise ApiError(400, "invalid_json", "The body must be a JSON object.", field="body")
        command = parse_press(serial, data)
        deps = container().deps
        if deps.button_mirror is not None and plain_press(command):
            # the guard and the button's mirrored order in flight, in one round trip (see button_mirror)
            decision, in_flight = common.rates().guard_press(
                *guard, order_key=deps.button_mirror.order_key(serial), presses_key=PRESSES, serial=serial,
                pressed_at=deps.clock().isoformat(timespec="microseconds"))
            common.enforce(decision)
            command = replace(command, in_flight=in_flight)
        else:
            common.check(guard)
        return jsonify(container().bus.handle(command)), 200

    return common.signed(scope, [found[0]], run, limits=[(scope, "REPLENISH_BUTTON_RATE", "600/60")],
                         guards_itself=True)


@bp.get("/v1/buttons/_noop")
def noop():
    """For benchmarks: the cost of the stack with no work behind it."""
    return jsonify({"status": "ok"})


@bp.get("/openapi.json")
def openapi():
    from .openapi_devices import document
    return jsonify(document())


__all__ = ["bp", "parse_press", "ValidationError"]
