"""Fulfillment gateway that speaks signed JSON over HTTP to a retailer.

Every request carries ``X-Replenish-Signature: t=<unix>,v1=<hex>`` where the hex is
HMAC-SHA256(secret, "<t>.<raw body>"); GETs and body-less POSTs sign the empty body.
Submissions carry an ``Idempotency-Key`` so that a retry after a timeout (when we cannot
know whether the retailer got the order) never places a second order.
"""
from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timezone
from typing import Any, Callable
from urllib.parse import quote

import requests

from replenish.adapters import retailer_signing
from replenish.adapters.retailer_signing import SIGNATURE_HEADER, sign
from replenish.services.ports import (
    PermanentError,
    RetailerStatus,
    SubmitRequest,
    SubmitResult,
    TransientError,
)

log = logging.getLogger(__name__)

KEY_ID_HEADER = "X-Replenish-Key-Id"
STATUSES = frozenset({"submitted", "confirmed", "shipped", "delivered", "cancelled"})


# --- signatures: the retailer protocol's scheme (retailer_signing) --------------------------


def verify_signature(secret: str | bytes, header: str | None, body: bytes | str, now: float | datetime,
                     tolerance: float = 300) -> bool:
    """True when ``header`` holds a v1 signature of ``body`` by ``secret`` made within ``tolerance`` s."""
    return retailer_signing.verify([secret], header, body, now, tolerance)


# --- the gateway ----------------------------------------------------------------------------


def _parse_datetime(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise PermanentError(f"retailer sent a non-string date: {value!r}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError as exc:
        raise PermanentError(f"retailer sent an unreadable date: {value!r}") from exc
    # A bare date or naive time is taken as UTC: the core only handles aware datetimes.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _json(response: requests.Response) -> dict:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class HttpRetailer:
    """FulfillmentGateway over HTTP. Retries 5xx, 429, timeouts and connection errors with
    exponential backoff (``backoff * 2**n`` seconds), resending the same bytes and key;
    raises TransientError once ``retries`` retries are spent."""

    def __init__(
        self,
        base_url: str,
        secret: str,
        key_id: str = "replenish",
        timeout: float | tuple[float, float] = (3.05, 10),
        retries: int = 3,
        backoff: float = 0.5,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ):
        if not secret:
            raise ValueError("HttpRetailer needs a signing secret")
        self.base_url = base_url.rstrip("/")
        self._secret = secret
        self.key_id = key_id
        self.timeout = timeout
        self.retries = max(0, int(retries))
        self.backoff = backoff
        self.session = session or requests.Session()
        self._sleep = sleep
        self._clock = clock

    # FulfillmentGateway

    def submit(self, request: SubmitRequest) -> SubmitResult:
        payload = {
            "idempotency_key": request.idempotency_key,
            "household_id": request.household_id,
            "ship_to": request.address,
            "lines": [
                {"sku": line.sku, "quantity": line.quantity, "unit_price_cents": line.unit_price_cents}
                for line in request.lines
            ],
        }
        response = self._send("POST", "/orders", payload, idempotency_key=request.idempotency_key)
        if response.status_code in (200, 201):
            data = _json(response)
            retailer_order_id = data.get("retailer_order_id")
            if not isinstance(retailer_order_id, (str, int)) or retailer_order_id == "":
                # The order may exist; a later retry with the same key will find it.
                raise TransientError(f"retailer accepted without an order id (HTTP {response.status_code})")
            return SubmitResult(accepted=True, retailer_order_id=str(retailer_order_id))
        if response.status_code in (409, 422):
            error = _json(response).get("error")
            error = error if isinstance(error, dict) else {}
            reason = _optional_str(error.get("message")) or _optional_str(error.get("code")) or "refused by retailer"
            return SubmitResult(accepted=False, reason=reason)
        raise self._unexpected(response)

    def status(self, retailer_order_id: str) -> RetailerStatus:
        response = self._send("GET", f"/orders/{quote(str(retailer_order_id), safe='')}")
        if response.status_code != 200:
            raise self._unexpected(response)
        data = _json(response)
        status = data.get("status")
        if status not in STATUSES:
            raise PermanentError(f"retailer sent an unknown status {status!r} for {retailer_order_id}")
        return RetailerStatus(
            status=status,
            tracking_url=_optional_str(data.get("tracking_url")),
            expected_delivery=_parse_datetime(data.get("expected_delivery")),
            delivery_photo_url=_optional_str(data.get("delivery_photo_url")),
        )

    def cancel(self, retailer_order_id: str) -> bool:
        response = self._send("POST", f"/orders/{quote(str(retailer_order_id), safe='')}/cancel")
        if response.status_code == 200:
            return _json(response).get("cancelled") is True
        if response.status_code == 409:  # too late: already shipped or past the retailer's window
            return False
        raise self._unexpected(response)

    # transport

    def _send(
        self, method: str, path: str, payload: dict | None = None, idempotency_key: str | None = None
    ) -> requests.Response:
        """Send with retries; return the first response that is not worth retrying."""
        body = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        url = self.base_url + path
        last_problem = "no attempt made"
        for attempt in range(self.retries + 1):
            if attempt:
                delay = self.backoff * 2 ** (attempt - 1)
                log.info("retailer %s %s: retry %d in %.2fs (%s)", method, path, attempt, delay, last_problem)
                self._sleep(delay)
            headers = {
                SIGNATURE_HEADER: sign(self._secret, body, int(self._clock())),
                KEY_ID_HEADER: self.key_id,
                "Accept": "application/json",
            }
            if payload is not None:
                headers["Content-Type"] = "application/json"
            if idempotency_key:
                headers["Idempotency-Key"] = idempotency_key
            try:
                response = self.session.request(method, url, data=body, headers=headers, timeout=self.timeout)
            except (requests.Timeout, requests.ConnectionError) as exc:
                last_problem = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code >= 500 or response.status_code == 429:
                last_problem = f"HTTP {response.status_code}"
                continue
            return response
        raise TransientError(f"retailer {method} {path} failed after {self.retries + 1} attempts: {last_problem}")

    @staticmethod
    def _unexpected(response: requests.Response) -> PermanentError:
        error = _json(response).get("error")
        detail = ""
        if isinstance(error, dict):
            detail = f": {error.get('code', '')} {error.get('message', '')}".rstrip()
        return PermanentError(
            f"retailer answered HTTP {response.status_code} to {response.request.method} "
            f"{response.request.path_url}{detail}"
        )
