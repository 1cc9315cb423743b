"""Dash-style buttons: pairing (household API) and signed presses in three event formats."""
from __future__ import annotations

import re
from typing import Annotated, Literal

from flask import Blueprint, g, jsonify, request
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    StringConstraints,
    ValidationError,
    model_validator,
)

from replenish.devices.domain import commands as dc
from replenish.devices.web import common
from replenish.domain.model import MAX_QUANTITY
from replenish.web.auth import container, json_body, require_household
from replenish.web.errors import ApiError
from replenish.web.openapi import operation

bp = Blueprint("buttons", __name__)

Click = Literal["SINGLE", "DOUBLE", "LONG"]
Text64 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class RegisterButtonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: Text64 | None = None
    category: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None
    quantity: int = Field(default=1, ge=1, le=MAX_QUANTITY, strict=True)
    action: Literal["order", "list"] = "order"  # "list": a press adds to the shopping list instead of ordering

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


class Press(RootModel[OurPress | IotButtonPress | OneClickPress]):
    """A press in any of the three formats."""


class ButtonOut(BaseModel):
    """A button"""
    serial: str
    household_id: str
    sku: str | None
    category: str | None
    quantity: int
    status: str
    battery: str | None
    battery_low: bool
    last_press_at: str | None
    created_at: str | None
    action: Literal["order", "list"]


class PairedOut(ButtonOut):
    """The button paired: its serial (the keyid) and secret, shown this once"""
    key_id: str
    secret: str


class ButtonsOut(BaseModel):
    """The household's buttons"""
    buttons: list[ButtonOut]


class PressOut(BaseModel):
    """What the press did"""
    status: Literal["order_placed", "order_in_progress", "status_requested", "no_order_to_cancel", "cannot_cancel",
                    "order_cancelled", "not_on_list", "cannot_remove", "removed_from_list", "already_on_list",
                    "added_to_list"]
    order_id: str | None = None
    order_status: str | None = None
    reason: str | None = None
    item_id: str | None = None


SERIAL = {"serial": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": r"^[A-Za-z0-9]+$"}}


def parse_press(serial: str, data: dict) -> dc.PressButton:
    """Any of the three formats into one command; a serial in the body must match the URL's."""
    named: str | None  # the serial the event names, when it names one
    if "deviceEvent" in data or "deviceInfo" in data:
        one_click = OneClickPress.model_validate(data)
        named, click = one_click.deviceInfo.deviceId, one_click.deviceEvent.buttonClicked.clickType
        battery_mv, battery_percent = None, one_click.deviceInfo.remainingLife
    elif "clickType" in data or "serialNumber" in data:
        iot = IotButtonPress.model_validate(data)
        named, click, battery_mv, battery_percent = iot.serialNumber, iot.clickType, iot.battery_mv(), None
    else:
        ours = OurPress.model_validate(data)
        named, click, battery_mv, battery_percent = ours.serial, ours.click_type, ours.battery_mv, \
            ours.battery_percent
    if named is not None and named != serial:
        raise ApiError(400, "serial_mismatch", "The event names another button than the URL.", field="serial")
    return dc.PressButton(serial, click, battery_mv, battery_percent)


class ButtonStatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["active", "disabled"]


@bp.post("/v1/buttons")
@operation("Pair a button (returns its serial and secret)", {201: PairedOut}, body=RegisterButtonIn, idempotent=True,
           errors=(404, 409, 422), tag="buttons")
@require_household
@common.idempotent(lambda: f"household:{g.household_id}")
def register_button():
    body = RegisterButtonIn.model_validate(json_body())
    result = container().bus.handle(dc.RegisterButton(g.household_id, body.sku, body.category, body.quantity,
                                                         body.action))
    return jsonify(result), 201


@bp.get("/v1/buttons")
@operation("The household's buttons", {200: ButtonsOut}, tag="buttons")
@require_household
def list_buttons():
    from replenish.devices.services.views import button_view
    with container().uow() as uow:
        return jsonify({"buttons": [button_view(b) for b in uow.devices.buttons_for(g.household_id)]})



@bp.patch("/v1/buttons/<serial>")
@operation("Disable a button, or enable it again", {200: ButtonOut}, body=ButtonStatusIn, path=SERIAL,
           tag="buttons")
@require_household
def set_button_status(serial: str):
    """Disable a button (its presses order nothing) or enable it again."""
    body = ButtonStatusIn.model_validate(json_body())
    result = container().bus.handle(dc.SetButtonStatus(g.household_id, serial, body.status))
    common.lookups().forget()
    return jsonify(result)


@bp.delete("/v1/buttons/<serial>")
@operation("Unpair a button for good", {200: ButtonOut}, path=SERIAL, tag="buttons")
@require_household
def unpair_button(serial: str):
    """Unpair a button for good: its secret stops verifying."""
    result = container().bus.handle(dc.UnpairButton(g.household_id, serial))
    common.lookups().forget()
    return jsonify(result)


def _button_key(serial: str):
    """keyid -> (secret, serial) for the button of the URL only: a button's key signs its own presses."""
    def resolve(key_id: str):
        if key_id != serial:
            return None
        found = common.lookups().button_key(serial)
        return (found[0], serial) if found is not None else None
    return resolve


@bp.post("/v1/buttons/<serial>/press")
@operation("A press: SINGLE orders, DOUBLE asks for status, LONG cancels the pending order", {200: PressOut},
           auth="signature", body=Press, idempotent=True, errors=(409, 422), path=SERIAL, tag="buttons")
def press(serial: str):
    """A press, signed (RFC 9421) with the button's secret, keyid its serial."""
    if len(serial) > 64 or common.lookups().button_key(serial) is None:
        raise ApiError(404, "not_found", "No such button.", field="serial")
    scope = f"button:{serial}"

    def run():
        data = request.get_json(silent=True, force=True) if request.get_data(cache=True) else {}
        if not isinstance(data, dict):
            raise ApiError(400, "invalid_json", "The body must be a JSON object.", field="body")
        return jsonify(container().bus.handle(parse_press(serial, data))), 200

    return common.signed(_button_key(serial), run,
                         limits_of=lambda verified: [(scope, "REPLENISH_BUTTON_RATE", "600/60")])


__all__ = ["bp", "parse_press", "ValidationError"]
