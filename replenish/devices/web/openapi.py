"""The OpenAPI 3.1 document of the button and partner API. Request bodies come from the pydantic models that
validate them, so the document cannot drift from what the views accept."""
from __future__ import annotations

from functools import lru_cache

from pydantic.json_schema import models_json_schema

REF = "#/components/schemas/{model}"


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": REF.format(
        model="Error")}}}}


ERRORS = {"400": _error("Invalid input"), "401": _error("Missing or bad credentials or signature"),
          "404": _error("Not found"), "409": _error("Conflict"), "410": _error("Device deregistered"),
          "422": _error("Refused (limits, Idempotency-Key reused)"), "429": _error("Rate limited")}


def _ok(code: str = "200", description: str = "OK") -> dict:
    return {code: {"description": description, "content": {"application/json": {"schema": {"type": "object"}}}}}


def _body(model: str, required: bool = True) -> dict:
    return {"required": required, "content": {"application/json": {"schema": {"$ref": REF.format(model=model)}}}}


def _path_param(name: str, pattern: str | None = None) -> dict:
    schema = {"type": "string", "minLength": 1, "maxLength": 64}
    if pattern:
        schema["pattern"] = pattern
    return {"name": name, "in": "path", "required": True, "schema": schema}


SIGNED = "RFC 9421 HTTP Message Signature, HMAC-SHA256, covering \"@method\" \"@target-uri\" \"content-digest\" " \
         "with created (300 s tolerance), keyid and nonce. A nonce is used once: the byte-identical request again " \
         "gets the first answer (Signature-Replayed: true); another request with the nonce is a 401."
SIGNATURE = {"name": "Signature-Input", "in": "header", "required": True, "description": SIGNED,
             "schema": {"type": "string"}}
SIGNATURE_VALUE = {"name": "Signature", "in": "header", "required": True, "schema": {"type": "string"}}
DIGEST = {"name": "Content-Digest", "in": "header", "required": True,
          "description": "RFC 9530: sha-256 of the exact body (of the empty body for a GET).",
          "schema": {"type": "string"}}
IDEMPOTENCY = {"name": "Idempotency-Key", "in": "header", "required": False,
               "description": "The first response is stored for 24 h; the same key with another body is a 422.",
               "schema": {"type": "string", "minLength": 1, "maxLength": 200}}
DEVICE = _path_param("device_id", r"^[A-Za-z0-9]+$")
SLOT = _path_param("slot_id", r"^[A-Za-z0-9._-]+$")
SERIAL = _path_param("serial", r"^[A-Za-z0-9]+$")
HOUSEHOLD = [{"household": []}]
PARTNER = [{"signature": []}]


def _op(summary: str, security, responses: dict, *, params=(), body: dict | None = None, codes=()) -> dict:
    params = list(params)
    if SIGNATURE in params:
        params[params.index(SIGNATURE) + 1:params.index(SIGNATURE) + 1] = [SIGNATURE_VALUE, DIGEST]
    op = {"summary": summary, "security": security, "parameters": params,
          "responses": {**responses, **{c: ERRORS[c] for c in codes}}}
    if body is not None:
        op["requestBody"] = body
    return op


@lru_cache(maxsize=1)
def document() -> dict:
    from replenish.devices.web.buttons import (
        IotButtonPress,
        OneClickPress,
        OurPress,
        RegisterButtonIn,
    )
    from replenish.devices.web.partners import (
        ConfigureSlotIn,
        HeartbeatIn,
        RegisterDeviceIn,
        SlotStatusIn,
    )
    models = [RegisterButtonIn, OurPress, IotButtonPress, OneClickPress, RegisterDeviceIn, SlotStatusIn,
              HeartbeatIn, ConfigureSlotIn]
    _, top = models_json_schema([(m, "validation") for m in models], ref_template=REF)
    schemas = dict(top.get("$defs", {}))
    schemas["Error"] = {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"}}}}}
    schemas["Press"] = {"oneOf": [{"$ref": REF.format(model=n)} for n in ("OurPress", "IotButtonPress",
                                                                          "OneClickPress")]}
    empty = {"required": False, "content": {"application/json": {"schema": {
        "type": "object", "additionalProperties": False}}}}
    paths = {
        "/v1/buttons": {
            "post": _op("Pair a button (returns its serial and secret)", HOUSEHOLD, _ok("201", "Paired"),
                        params=[IDEMPOTENCY], body=_body("RegisterButtonIn"), codes=("400", "401", "404", "422")),
            "get": _op("The household's buttons", HOUSEHOLD, _ok(), codes=("401",)),
        },
        "/v1/buttons/{serial}/press": {"post": _op(
            "A press: SINGLE orders, DOUBLE asks for status, LONG cancels the pending order", [],
            _ok(description="order_placed | order_in_progress | status_requested | order_cancelled | ..."),
            params=[SERIAL, SIGNATURE, IDEMPOTENCY], body=_body("Press"),
            codes=("400", "401", "404", "409", "422", "429"))},
        "/v1/buttons/{serial}": {
            "patch": _op("Disable a button, or enable it again", HOUSEHOLD, _ok(), params=[SERIAL],
                         codes=("400", "401", "404")),
            "delete": _op("Unpair a button for good", HOUSEHOLD, _ok(), params=[SERIAL], codes=("401", "404")),
        },
        "/v1/devices/link-codes": {"post": _op("A short code a partner's device joins the household with",
                                               HOUSEHOLD, _ok("201", "Created"), params=[IDEMPOTENCY],
                                               body=empty, codes=("400", "401", "422"))},
        "/v1/devices": {"get": _op("The household's devices", HOUSEHOLD, _ok(), codes=("401",))},
        "/v1/devices/{device_id}": {"delete": _op("Remove a device", HOUSEHOLD, _ok(), params=[DEVICE],
                                                  codes=("401", "404"))},
        "/v1/devices/{device_id}/slots/{slot_id}": {"patch": _op(
            "Choose a slot's product, mode, threshold or target", HOUSEHOLD, _ok(), params=[DEVICE, SLOT],
            body=_body("ConfigureSlotIn"), codes=("400", "401", "404", "410"))},
        "/v1/partner/devices": {"post": _op("Register a device with a household's link code", PARTNER,
                                            _ok("201", "Registered"), params=[SIGNATURE, IDEMPOTENCY],
                                            body=_body("RegisterDeviceIn"),
                                            codes=("400", "401", "404", "409", "422", "429"))},
        "/v1/partner/devices/{device_id}": {
            "get": _op("A device and its slots", PARTNER, _ok(), params=[DEVICE, SIGNATURE], codes=("401", "404",
                                                                                                    "429")),
            "delete": _op("Deregister: stops ordering, revokes the device's credentials", PARTNER, _ok(),
                          params=[DEVICE, SIGNATURE], codes=("401", "404", "422", "429")),
        },
        "/v1/partner/devices/{device_id}/heartbeat": {"post": _op(
            "Device status (DRS deviceStatus)", PARTNER, _ok(), params=[DEVICE, SIGNATURE, IDEMPOTENCY],
            body=_body("HeartbeatIn", required=False), codes=("400", "401", "404", "410", "422", "429"))},
        "/v1/partner/devices/{device_id}/subscription": {"get": _op(
            "Subscription info (DRS subscriptionInfo)", PARTNER, _ok(), params=[DEVICE, SIGNATURE],
            codes=("401", "404", "410", "429"))},
        "/v1/partner/devices/{device_id}/orders": {"get": _op(
            "Orders for the device's slots (DRS orderInfo)", PARTNER, _ok(), params=[DEVICE, SIGNATURE],
            codes=("401", "404", "429"))},
        "/v1/partner/devices/{device_id}/slots/{slot_id}/status": {"post": _op(
            "Slot status (DRS slotStatus) or usage; may place or announce an order", PARTNER,
            _ok("200", "Applied: the slot and the policy's decision (and the order placed or in flight)"),
            params=[DEVICE, SLOT, SIGNATURE, IDEMPOTENCY], body=_body("SlotStatusIn"),
            codes=("400", "401", "404", "410", "422", "429"))},
        "/v1/partner/devices/{device_id}/slots/{slot_id}/replenish": {"post": _op(
            "Replenish now: ORDER_PLACED or ORDER_IN_PROGRESS", PARTNER, _ok(),
            params=[DEVICE, SLOT, SIGNATURE, IDEMPOTENCY], body=empty,
            codes=("400", "401", "404", "409", "410", "422", "429"))},
        "/v1/partner/webhooks": {"get": _op("The webhook delivery log", PARTNER, _ok(), params=[SIGNATURE],
                                            codes=("401", "429"))},
        "/v1/partner/orders/{order_id}": {"get": _op(
            "One order for one of the partner's devices (DRS getOrderInfo)", PARTNER, _ok(),
            params=[_path_param("order_id"), SIGNATURE], codes=("401", "404", "429"))},
        "/v1/partner/test-orders": {"get": _op(
            "The partner's test orders in flight (never sent to the store)", PARTNER, _ok(), params=[SIGNATURE],
            codes=("401", "429"))},
        "/v1/partner/orders/{order_id}/cancel": {"post": _op(
            "Cancel a test order", PARTNER, _ok(), params=[_path_param("order_id"), SIGNATURE, IDEMPOTENCY],
            body=empty, codes=("400", "401", "404", "409", "429"))},
        "/v1/partner/keys": {
            "get": _op("The partner's signing keys", PARTNER, _ok(), params=[SIGNATURE], codes=("401", "429")),
            "post": _op("A new signing key (its secret shown once)", PARTNER, _ok("201", "Created"),
                        params=[SIGNATURE, IDEMPOTENCY], body=empty, codes=("400", "401", "422", "429")),
        },
        "/v1/partner/keys/{key_id}": {"delete": _op(
            "Revoke a signing key", PARTNER, _ok(), params=[_path_param("key_id"), SIGNATURE],
            codes=("401", "404", "422", "429"))},
        "/v1/partner/webhook-secrets/retire": {"post": _op(
            "Retire a webhook secret", PARTNER, _ok(), params=[SIGNATURE, IDEMPOTENCY],
            codes=("400", "401", "422", "429"))},
        "/v1/partner/webhook-secrets": {"post": _op("Add a webhook secret (rotation)", PARTNER,
                                                    _ok("201", "Added"), params=[SIGNATURE, IDEMPOTENCY],
                                                    body=empty, codes=("400", "401", "422", "429"))},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Replenish buttons and partner appliances", "version": "1.0.0",
                 "description": "Dash-style buttons and a partner API shaped like the Dash Replenishment API. "
                                "Every partner and button request is signed (RFC 9421). Webhooks to partners follow "
                                "Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature with one v1 "
                                "per live webhook secret)."},
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {
            "household": {"type": "http", "scheme": "bearer", "description": "A household API token"},
            "signature": {"type": "apiKey", "in": "header", "name": "Signature",
                          "description": SIGNED + " keyid: a partner key (pk_...), a device's id (its own "
                                                  "routes only) or a button's serial."}}},
    }
