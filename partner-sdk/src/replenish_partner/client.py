"""The partner client: signs every request (RFC 9421, see ``signatures``), registers devices, reports slot
status, heartbeats, replenishes, looks orders up, deregisters, rotates its keys and verifies webhooks (Standard
Webhooks, see ``webhooks``); and the button client a button bridge presses with.

    client = PartnerClient("https://replenish.example", key_id, secret, webhook_secrets=[webhook_secret])
    device = client.register_device(link_code, "WM-0001", model="washer", slots=[{...}])
    client.report_slot_status(device["device_id"], "detergent", remaining=12, original=84)
"""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import requests

from .errors import PartnerError
from .signatures import signature_headers
from .webhooks import verify_webhook

__all__ = ["ButtonClient", "PartnerClient", "PartnerError"]


def _iso(value: datetime | str | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


class _Signed:
    def __init__(self, base_url: str, key_id: str, secret: str, timeout: float, session: requests.Session | None,
                 clock: Callable[[], float]):
        self.base_url = base_url.rstrip("/")
        self.key_id, self.secret = key_id, secret
        self.timeout = timeout
        self.session = session or requests.Session()
        self.clock = clock

    def _send(self, method: str, path: str, payload: Any = None, *, headers: dict | None = None,
              idempotency_key: str | None = None, raw: bool = False):
        body = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        url = self.base_url + path
        sent = {"Content-Type": "application/json", **(headers or {})}
        if idempotency_key:
            sent["Idempotency-Key"] = idempotency_key
        sent = signature_headers(method, url, body, self.key_id, self.secret, headers=sent, created=self.clock())
        response = self.session.request(method, url, data=body, headers=sent, timeout=self.timeout)
        if raw:
            return response
        try:
            data = response.json()
        except ValueError:
            data = {"error": {"code": "bad_response", "message": response.text[:200]}}
        if response.status_code >= 400:
            raise PartnerError(response.status_code, data)
        return data


class PartnerClient(_Signed):
    """A partner's client, signing with one of its keys (``key_id``, ``secret``: from ``replenish partners create
    --json`` or ``create_key``), or a device's own client (``key_id`` the device id and its ``secret``, from
    ``register_device``), which works on that device's routes only."""

    def __init__(self, base_url: str, key_id: str, secret: str, *, webhook_secrets: Iterable[str] = (),
                 timeout: float = 10.0, session: requests.Session | None = None,
                 clock: Callable[[], float] = time.time):
        super().__init__(base_url, key_id, secret, timeout, session, clock)
        self.webhook_secrets = list(webhook_secrets)

    def _call(self, method: str, path: str, payload: Any = None, extra_headers=None, **kw):
        return self._send(method, path, payload, headers=extra_headers, **kw)

    # -- devices -----------------------------------------------------------------------------------
    def register_device(self, link_code: str, device_id: str, *, slots: list[dict], model: str = "",
                        idempotency_key: str | None = None, test: bool = False) -> dict:
        """``test``: the device's orders are test orders (DRS TEST_ORDER_PLACED), never sent to the store."""
        return self._call("POST", "/v1/partner/devices", {"link_code": link_code, "device_id": device_id,
                                                          "model": model, "slots": slots, "test": test},
                          idempotency_key=idempotency_key or str(uuid.uuid4()))

    def device(self, device_id: str) -> dict:
        return self._call("GET", f"/v1/partner/devices/{device_id}")

    def report_slot_status(self, device_id: str, slot_id: str, remaining: float | None = None, *,
                           consumed: float | None = None, unit: str | None = None, original: float | None = None,
                           on_hand: float | None = None, expected_replenishment: datetime | str | None = None,
                           last_use: datetime | str | None = None, idempotency_key: str | None = None) -> dict:
        """A level (``remaining``) or usage (``consumed``) report, in the slot's unit or ``unit``; answered with
        the slot and the policy's decision (with the order placed or in flight)."""
        payload: dict[str, Any] = {}
        for name, value in (("remainingQuantityInUnit", remaining), ("consumed", consumed), ("unit", unit),
                            ("originalQuantityInUnit", original), ("totalQuantityOnHand", on_hand),
                            ("expectedReplenishmentDate", _iso(expected_replenishment)),
                            ("lastUseDate", _iso(last_use))):
            if value is not None:
                payload[name] = value
        return self._call("POST", f"/v1/partner/devices/{device_id}/slots/{slot_id}/status", payload,
                          idempotency_key=idempotency_key)

    def heartbeat(self, device_id: str, most_recently_active: datetime | str | None = None) -> dict:
        payload = {"mostRecentlyActiveDate": _iso(most_recently_active)} if most_recently_active else {}
        return self._call("POST", f"/v1/partner/devices/{device_id}/heartbeat", payload)

    def subscription_info(self, device_id: str) -> dict:
        return self._call("GET", f"/v1/partner/devices/{device_id}/subscription")

    def order_info(self, device_id: str) -> dict:
        return self._call("GET", f"/v1/partner/devices/{device_id}/orders")

    def order(self, order_id: str) -> dict:
        """One order placed for one of your devices (DRS getOrderInfo): status, ``detailCode``, lines, delivery."""
        return self._call("GET", f"/v1/partner/orders/{order_id}")

    def test_orders(self) -> list[dict]:
        """Your test orders in flight (never sent to the store)."""
        return self._call("GET", "/v1/partner/test-orders")["orders"]

    def cancel_test_order(self, order_id: str) -> dict:
        return self._call("POST", f"/v1/partner/orders/{order_id}/cancel", {})

    def replenish(self, device_id: str, slot_id: str, idempotency_key: str | None = None) -> dict:
        """``{"detailCode": "ORDER_PLACED" | "ORDER_IN_PROGRESS", "order_id": ...}``."""
        return self._call("POST", f"/v1/partner/devices/{device_id}/slots/{slot_id}/replenish", {},
                          idempotency_key=idempotency_key)

    def deregister(self, device_id: str) -> dict:
        return self._call("DELETE", f"/v1/partner/devices/{device_id}")

    def webhook_log(self) -> list[dict]:
        return self._call("GET", "/v1/partner/webhooks")["deliveries"]

    # -- keys and webhook secrets ------------------------------------------------------------------
    def keys(self) -> list[dict]:
        return self._call("GET", "/v1/partner/keys")["keys"]

    def create_key(self) -> dict:
        """``{"key_id", "secret", ...}``: sign with it from now on, then ``revoke_key`` the old one."""
        return self._call("POST", "/v1/partner/keys", {})

    def revoke_key(self, key_id: str) -> dict:
        return self._call("DELETE", f"/v1/partner/keys/{key_id}")

    def add_webhook_secret(self) -> str:
        added = self._call("POST", "/v1/partner/webhook-secrets", {})["added"]
        self.webhook_secrets.append(added)
        return added

    def retire_webhook_secret(self, secret: str) -> dict:
        result = self._call("POST", "/v1/partner/webhook-secrets/retire", {"secret": secret})
        self.webhook_secrets = [s for s in self.webhook_secrets if s != secret]
        return result

    # -- webhooks ----------------------------------------------------------------------------------
    def verify_webhook(self, headers, body: bytes, now: float | datetime | None = None) -> Any:
        """The webhook's JSON when it is signed per Standard Webhooks (``webhook-id``, ``webhook-timestamp``,
        ``webhook-signature``) with one of ``webhook_secrets``, at most 5 minutes from ``now`` (unix seconds;
        the client's clock by default); raises ``PartnerError(401)`` otherwise. Pass the body exactly as
        received. See ``replenish_partner.verify_webhook``."""
        return verify_webhook(self.webhook_secrets, headers, body, self.clock() if now is None else now)


class ButtonClient(_Signed):
    """What a button bridge (or the simulator) uses to send presses, signed with the button's secret."""

    def __init__(self, base_url: str, serial: str, secret: str, *, timeout: float = 10.0,
                 session: requests.Session | None = None, clock: Callable[[], float] = time.time):
        super().__init__(base_url, serial, secret, timeout, session, clock)
        self.serial = serial

    def press(self, click_type: str = "SINGLE", battery_mv: int | None = None, *, raw: bool = False):
        payload: dict[str, Any] = {"click_type": click_type}
        if battery_mv is not None:
            payload["battery_mv"] = battery_mv
        return self._send("POST", f"/v1/buttons/{self.serial}/press", payload, raw=raw)
