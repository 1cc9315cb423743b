"""Fulfillment gateway that speaks signed JSON over HTTP to a retailer.

Every request carries ``X-Replenish-Signature: t=<unix>,v1=<hex>`` where the hex is
HMAC-SHA256(secret, "<t>.<raw body>"); GETs and body-less POSTs sign the empty body.
Each order carries an idempotency key (the order's id) so that a retry after a timeout (when we cannot
know whether the retailer got the order) never places a second order. docs/retailer-protocol.md describes the
protocol, the batch endpoint included.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import requests

from replenish.adapters import retailer_signing
from replenish.adapters.retailer_signing import SIGNATURE_HEADER, sign
from replenish.services.ports import (
    PermanentError,
    RetailerStatus,
    SubmitLine,
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
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


BATCH_PATH = "/orders/batch"
MAX_BATCH = 100  # orders in one batch request (the protocol's limit)


class HttpRetailer:
    """FulfillmentGateway over HTTP. One attempt per call, never a sleep: 5xx, 429, timeouts and connection
    errors raise TransientError at once, and the caller decides when to try again (for submissions: the order's
    due time, ``replenish.services.retry``). Every try of an order carries the same idempotency key.

    ``submit_many`` sends up to ``MAX_BATCH`` orders in one ``POST /orders/batch`` and reads one result per
    order. A retailer without that endpoint (404, 405 or 501 to it) gets concurrent ``POST /orders`` calls
    instead, ``concurrency`` at a time, from this one worker."""

    def __init__(
        self,
        base_url: str,
        secret: str,
        key_id: str = "replenish",
        timeout: float | tuple[float, float] = (3.05, 10),
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
        batch: bool = True,
        concurrency: int = 8,
    ):
        if not secret:
            raise ValueError("HttpRetailer needs a signing secret")
        self.base_url = base_url.rstrip("/")
        self._secret = secret
        self.key_id = key_id
        self.timeout = timeout
        self.session = session or requests.Session()
        self._clock = clock
        self.batch = batch  # False once the retailer said it has no batch endpoint
        self.concurrency = max(1, int(concurrency))
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    # FulfillmentGateway

    @staticmethod
    def _order_payload(request: SubmitRequest) -> dict[str, Any]:
        def lines(of: Iterable[SubmitLine]) -> list[dict[str, Any]]:
            return [{"sku": line.sku, "quantity": line.quantity, "unit_price_cents": line.unit_price_cents}
                    for line in of]
        payload: dict[str, Any] = {
            "idempotency_key": request.idempotency_key,
            "household_id": request.household_id,
            "ship_to": request.address,
        }
        if request.parts:  # a merged submission: each of our orders with its own lines
            payload["parts"] = [{"order_id": part.order_id, "lines": lines(part.lines)} for part in request.parts]
        else:
            payload["lines"] = lines(request.lines)
        return payload

    def submit(self, request: SubmitRequest) -> SubmitResult:
        response = self._send("POST", "/orders", self._order_payload(request),
                              idempotency_key=request.idempotency_key)
        if response.status_code in (200, 201):
            data = _json(response)
            retailer_order_id = data.get("retailer_order_id")
            if not isinstance(retailer_order_id, (str, int)) or retailer_order_id == "":
                # The order may exist; a later retry with the same key will find it.
                raise TransientError(f"retailer accepted without an order id (HTTP {response.status_code})")
            return SubmitResult(accepted=True, retailer_order_id=str(retailer_order_id),
                                order_ids=_order_ids(data.get("order_ids")))
        if response.status_code in (409, 422):
            return SubmitResult(accepted=False, reason=_refusal(_json(response).get("error")))
        raise self._unexpected(response)

    def submit_many(self, requests_: list[SubmitRequest]) -> list[SubmitResult | TransientError]:
        """One answer per request, in order: a SubmitResult, or the TransientError that request met. A batch
        the retailer did not answer as a whole raises TransientError (every order in it is tried again)."""
        answers: list[SubmitResult | TransientError] = []
        for start in range(0, len(requests_), MAX_BATCH):
            chunk = requests_[start:start + MAX_BATCH]
            answers += self._submit_batch(chunk) if self.batch else self._submit_concurrently(chunk)
        return answers

    def _submit_batch(self, chunk: list[SubmitRequest]) -> list[SubmitResult | TransientError]:
        response = self._send("POST", BATCH_PATH, {"orders": [self._order_payload(r) for r in chunk]})
        if response.status_code in (404, 405, 501):
            log.info("retailer has no %s endpoint (HTTP %s): one request per order from now on", BATCH_PATH,
                     response.status_code)
            self.batch = False
            return self._submit_concurrently(chunk)
        if response.status_code != 200:
            raise self._unexpected(response)
        results = _json(response).get("results")
        if not isinstance(results, list):
            raise PermanentError("retailer answered a batch without a results list")
        by_key = {r.get("idempotency_key"): r for r in results if isinstance(r, dict)}
        return [self._batch_answer(request, by_key.get(request.idempotency_key)) for request in chunk]

    @staticmethod
    def _batch_answer(request: SubmitRequest, result: dict[str, Any] | None) -> SubmitResult | TransientError:
        if result is None:  # left out of the answer: the retailer may or may not hold it; the key decides later
            return TransientError(f"retailer's batch answer left out order {request.idempotency_key}")
        status = result.get("status")
        if status == "accepted":
            retailer_order_id = result.get("retailer_order_id")
            if isinstance(retailer_order_id, (str, int)) and retailer_order_id != "":
                return SubmitResult(accepted=True, retailer_order_id=str(retailer_order_id),
                                    order_ids=_order_ids(result.get("order_ids")))
            return TransientError(f"retailer accepted {request.idempotency_key} without an order id")
        if status == "refused":
            return SubmitResult(accepted=False, reason=_refusal(result.get("error")))
        # "unavailable" (or anything else): not taken this time, worth another try
        return TransientError(f"retailer could not take {request.idempotency_key} now: {_refusal(result.get('error'))}")

    def _submit_concurrently(self, chunk: list[SubmitRequest]) -> list[SubmitResult | TransientError]:
        def one(request: SubmitRequest) -> SubmitResult | TransientError:
            try:
                return self.submit(request)
            except TransientError as exc:
                return exc
        if len(chunk) == 1:
            return [one(chunk[0])]
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="retailer")
        return list(self._pool.map(one, chunk))

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

    def cancel_lines(self, retailer_order_id: str, order_ids: list[str]) -> bool:
        """Line-level cancel: takes these orders' lines off a merged retailer order (True), or it is too late."""
        response = self._send("POST", f"/orders/{quote(str(retailer_order_id), safe='')}/cancel",
                              {"order_ids": list(order_ids)})
        if response.status_code == 200:
            return _json(response).get("cancelled") is True
        if response.status_code == 409:
            return False
        raise self._unexpected(response)

    # transport

    def _send(
        self, method: str, path: str, payload: dict[str, Any] | None = None, idempotency_key: str | None = None
    ) -> requests.Response:
        """One signed request; TransientError when it met no answer worth reading (5xx, 429, a timeout, a
        connection error). No retry here: retrying is the caller's decision, with the same key."""
        body = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
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
            response = self.session.request(method, self.base_url + path, data=body, headers=headers,
                                            timeout=self.timeout)
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise TransientError(f"retailer {method} {path}: {type(exc).__name__}: {exc}") from exc
        no_batch_endpoint = response.status_code == 501 and path == BATCH_PATH
        if (response.status_code >= 500 and not no_batch_endpoint) or response.status_code == 429:
            raise TransientError(f"retailer {method} {path}: HTTP {response.status_code}")
        return response

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


def _order_ids(value: object) -> tuple[str, ...] | None:
    """The orders a booking holds, when the retailer said (a retailer that predates merging does not)."""
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    return None


def _refusal(error: object) -> str:
    said = error if isinstance(error, dict) else {}
    return _optional_str(said.get("message")) or _optional_str(said.get("code")) or "refused by retailer"
