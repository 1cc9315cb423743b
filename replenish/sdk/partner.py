"""The partner SDK: signs requests, registers devices, reports slot status, heartbeats, replenishes,
deregisters, and verifies our webhooks. Standalone (requests and the standard library only) so partners
can vendor it.

    client = PartnerClient("https://replenish.example", api_key, [webhook_secret])
    device = client.register_device(link_code, "WM-0001", model="washer", slots=[{...}])
    client.report_slot_status(device["device_id"], "detergent", remaining=12, original=84)
"""
from __future__ import annotations

import json
import time
import uuid
from datetime import datetime
from typing import Any, Callable, Iterable

import requests

from .signing import SIGNATURE_HEADER, TOLERANCE, sign as sign_body, verify


def verify_signature(secrets: Iterable[str], header: str | None, body: bytes, now: float | None = None,
                     tolerance: float = TOLERANCE) -> bool:
    """True when one ``v1`` in ``header`` is ``body`` signed by one of ``secrets`` within ``tolerance`` s."""
    return verify(secrets, header, body, now, tolerance)


class PartnerError(Exception):
    def __init__(self, status: int, body: Any):
        error = body.get("error", {}) if isinstance(body, dict) else {}
        super().__init__(f"{status} {error.get('code', '')}: {error.get('message', body)}")
        self.status, self.body, self.code = status, body, error.get("code")


def _iso(value: datetime | str | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


class _Signed:
    def __init__(self, base_url: str, timeout: float, session: requests.Session | None,
                 clock: Callable[[], float]):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        self.clock = clock

    def _send(self, method: str, path: str, secret: str | None, payload: Any = None, *,
              headers: dict | None = None, idempotency_key: str | None = None, raw: bool = False):
        body = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        sent = {"Content-Type": "application/json", **(headers or {})}
        if secret is not None:
            sent[SIGNATURE_HEADER] = sign_body(secret, body, int(self.clock()))
        if idempotency_key:
            sent["Idempotency-Key"] = idempotency_key
        response = self.session.request(method, self.base_url + path, data=body, headers=sent, timeout=self.timeout)
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
    def __init__(self, base_url: str, api_key: str, webhook_secrets: Iterable[str], *, timeout: float = 10.0,
                 session: requests.Session | None = None, clock: Callable[[], float] = time.time):
        super().__init__(base_url, timeout, session, clock)
        self.api_key = api_key
        self.webhook_secrets = list(webhook_secrets)

    @property
    def _secret(self) -> str:
        return self.webhook_secrets[-1]  # the newest: during a rotation both verify

    def _call(self, method: str, path: str, payload: Any = None, signed: bool = True, extra_headers=None, **kw):
        headers = {"Authorization": f"Bearer {self.api_key}", **(extra_headers or {})}
        return self._send(method, path, self._secret if signed else None, payload, headers=headers, **kw)

    # -- devices -----------------------------------------------------------------------------------
    def register_device(self, link_code: str, device_id: str, *, slots: list[dict], model: str = "",
                        idempotency_key: str | None = None) -> dict:
        return self._call("POST", "/v1/partner/devices", {"link_code": link_code, "device_id": device_id,
                                                          "model": model, "slots": slots},
                          idempotency_key=idempotency_key or str(uuid.uuid4()))

    def device(self, device_id: str) -> dict:
        return self._call("GET", f"/v1/partner/devices/{device_id}", signed=False)

    def report_slot_status(self, device_id: str, slot_id: str, remaining: float, *, original: float | None = None,
                           on_hand: float | None = None, expected_replenishment: datetime | str | None = None,
                           last_use: datetime | str | None = None, idempotency_key: str | None = None,
                           wait: bool = True) -> dict:
        """The slot and the policy's decision (with the order placed or in flight): asks for them with
        ``Prefer: return=representation``. With ``wait=False`` the report is only accepted
        (``{"status": "accepted"}``, HTTP 202) and applied by a worker moments later, as DRS slotStatus does
        (and as the API does when asked for neither): orders placed then reach you as webhooks."""
        payload = {"remainingQuantityInUnit": remaining}
        for name, value in (("originalQuantityInUnit", original), ("totalQuantityOnHand", on_hand),
                            ("expectedReplenishmentDate", _iso(expected_replenishment)),
                            ("lastUseDate", _iso(last_use))):
            if value is not None:
                payload[name] = value
        return self._call("POST", f"/v1/partner/devices/{device_id}/slots/{slot_id}/status", payload,
                          idempotency_key=idempotency_key,
                          extra_headers={"Prefer": "return=representation" if wait else "respond-async"})

    def heartbeat(self, device_id: str, most_recently_active: datetime | str | None = None) -> dict:
        payload = {"mostRecentlyActiveDate": _iso(most_recently_active)} if most_recently_active else {}
        return self._call("POST", f"/v1/partner/devices/{device_id}/heartbeat", payload)

    def subscription_info(self, device_id: str) -> dict:
        return self._call("GET", f"/v1/partner/devices/{device_id}/subscription", signed=False)

    def order_info(self, device_id: str) -> dict:
        return self._call("GET", f"/v1/partner/devices/{device_id}/orders", signed=False)

    def replenish(self, device_id: str, slot_id: str, idempotency_key: str | None = None) -> dict:
        """``{"detailCode": "ORDER_PLACED" | "ORDER_IN_PROGRESS", "order_id": ...}``."""
        return self._call("POST", f"/v1/partner/devices/{device_id}/slots/{slot_id}/replenish", {},
                          idempotency_key=idempotency_key)

    def deregister(self, device_id: str) -> dict:
        return self._call("DELETE", f"/v1/partner/devices/{device_id}")

    def webhook_log(self) -> list[dict]:
        return self._call("GET", "/v1/partner/webhooks", signed=False)["deliveries"]

    # -- webhooks ----------------------------------------------------------------------------------
    def verify_webhook(self, headers, body: bytes, now: float | None = None) -> dict:
        """The webhook's JSON when its signature is good; raises ``PartnerError(401)`` otherwise."""
        header = None
        for name, value in dict(headers).items():
            if name.lower() == SIGNATURE_HEADER.lower():
                header = value
        if not verify_signature(self.webhook_secrets, header, body, self.clock() if now is None else now):
            raise PartnerError(401, {"error": {"code": "bad_signature", "message": "webhook signature invalid"}})
        return json.loads(body)


class ButtonClient(_Signed):
    """What a button bridge (or the simulator) uses to send presses."""

    def __init__(self, base_url: str, serial: str, secret: str, *, timeout: float = 10.0,
                 session: requests.Session | None = None, clock: Callable[[], float] = time.time):
        super().__init__(base_url, timeout, session, clock)
        self.serial, self.secret = serial, secret

    def press(self, click_type: str = "SINGLE", battery_mv: int | None = None, *, raw: bool = False):
        payload: dict[str, Any] = {"click_type": click_type, "nonce": uuid.uuid4().hex}
        if battery_mv is not None:
            payload["battery_mv"] = battery_mv
        return self._send("POST", f"/v1/buttons/{self.serial}/press", self.secret, payload, raw=raw)
