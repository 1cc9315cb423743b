"""Alexa Proactive Events API client: order-status notifications on the household's Echo devices.

The skill authenticates with its own client id/secret (client-credentials grant, scope
``alexa::proactive_events``) and posts ``AMAZON.OrderStatus.Updated`` events addressed to one Alexa user
(``relevantAudience`` Unicast). Payload shape follows Amazon's published Proactive Events schema; the seller
name is a localized attribute, as the schema asks.
"""
from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

TOKEN_URL = "https://api.amazon.com/auth/o2/token"
DEVELOPMENT_EVENTS_URL = "https://api.amazonalexa.com/v1/proactiveEvents/stages/development"
LIVE_EVENTS_URL = "https://api.amazonalexa.com/v1/proactiveEvents"
SCOPE = "alexa::proactive_events"
EVENT_NAME = "AMAZON.OrderStatus.Updated"

ORDER_STATUSES = frozenset({
    "PREORDER_RECEIVED", "ORDER_RECEIVED", "ORDER_PREPARING", "ORDER_SHIPPED", "ORDER_OUT_FOR_DELIVERY",
    "ORDER_DELIVERED",
})
_STATUS_ALIASES = {"OUT_FOR_DELIVERY": "ORDER_OUT_FOR_DELIVERY"}
# The schema only defines an expected arrival for parcels on their way.
_STATUSES_WITH_ARRIVAL = frozenset({"ORDER_SHIPPED", "ORDER_OUT_FOR_DELIVERY"})
# Amazon accepts expiry times between 5 minutes and 24 hours ahead.
MIN_EXPIRY_MINUTES, MAX_EXPIRY_MINUTES = 5, 1440


class ProactiveEventsError(Exception):
    """The token or events endpoint refused us, or could not be reached.

    ``status`` is the HTTP status (None for a transport failure); ``transient`` says whether a retry later
    may succeed (network errors, 429, 5xx).
    """

    def __init__(self, message: str, status: int | None = None, body: str = ""):
        super().__init__(message)
        self.status = status
        self.body = body

    @property
    def transient(self) -> bool:
        return self.status is None or self.status == 429 or self.status >= 500


def _utcnow() -> datetime:
    return datetime.now(UTC)


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a Z, as in Amazon's examples."""
    if moment.tzinfo is None:
        raise ValueError("datetimes sent to Alexa must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def normalise_status(order_status: str) -> str:
    status = _STATUS_ALIASES.get(order_status.upper(), order_status.upper())
    if status not in ORDER_STATUSES:
        raise ValueError(f"unknown order status {order_status!r}; expected one of {sorted(ORDER_STATUSES)}")
    return status


def order_status_event(
    *,
    user_id: str,
    order_status: str,
    seller_name: str,
    expected_arrival: datetime | None,
    reference_id: str,
    now: datetime,
    expiry_minutes: int = MAX_EXPIRY_MINUTES,
    locales: Sequence[str] = ("en-US",),
) -> dict[str, Any]:
    """The request body for one AMAZON.OrderStatus.Updated event (pure; no I/O)."""
    if not user_id:
        raise ValueError("user_id is required")
    if not reference_id:
        raise ValueError("reference_id is required")
    if not MIN_EXPIRY_MINUTES <= expiry_minutes <= MAX_EXPIRY_MINUTES:
        raise ValueError(f"expiry_minutes must be between {MIN_EXPIRY_MINUTES} and {MAX_EXPIRY_MINUTES}")
    status = normalise_status(order_status)
    state: dict[str, Any] = {"status": status}
    if expected_arrival is not None and status in _STATUSES_WITH_ARRIVAL:
        state["deliveryDetails"] = {"expectedArrival": iso_utc(expected_arrival)}
    return {
        "timestamp": iso_utc(now),
        "referenceId": reference_id,
        "expiryTime": iso_utc(now + timedelta(minutes=expiry_minutes)),
        "event": {
            "name": EVENT_NAME,
            "payload": {
                "state": state,
                "order": {"seller": {"name": "localizedattribute:sellerName"}},
            },
        },
        "localizedAttributes": [{"locale": locale, "sellerName": seller_name} for locale in locales],
        "relevantAudience": {"type": "Unicast", "payload": {"user": user_id}},
    }


class ProactiveEventsClient:
    """Sends proactive events for one skill; safe to share between threads.

    Tokens are cached until ``refresh_margin_seconds`` before they expire; a 401 from the events endpoint
    drops the cached token and retries once with a fresh one.
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        token_url: str = TOKEN_URL,
        events_url: str = DEVELOPMENT_EVENTS_URL,
        session: requests.Session | None = None,
        clock: Callable[[], datetime] = _utcnow,
        locales: Sequence[str] = ("en-US",),
        timeout: float = 10.0,
        refresh_margin_seconds: float = 60.0,
    ):
        if not client_id or not client_secret:
            raise ValueError("client_id and client_secret are required")
        self._client_id = client_id
        self._client_secret = client_secret
        self.token_url = token_url
        self.events_url = events_url
        self._session = session if session is not None else requests.Session()
        self._clock = clock
        self._locales = tuple(locales)
        self._timeout = timeout
        self._margin = timedelta(seconds=refresh_margin_seconds)
        self._token: str | None = None
        self._token_expires: datetime | None = None
        self._lock = threading.Lock()

    # -- tokens ----------------------------------------------------------------------------------------------

    def access_token(self, *, force_refresh: bool = False) -> str:
        with self._lock:
            now = self._clock()
            if force_refresh or self._token is None or self._token_expires is None or now >= self._token_expires:
                self._token, lifetime = self._request_token()
                self._token_expires = now + timedelta(seconds=lifetime) - self._margin
            return self._token

    def _request_token(self) -> tuple[str, float]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": self._client_secret,
            "scope": SCOPE,
        }
        response = self._post(self.token_url, data=form)
        if response.status_code >= 400:
            raise ProactiveEventsError(
                f"token request failed with HTTP {response.status_code}: {response.text}",
                response.status_code, response.text,
            )
        try:
            payload = response.json()
            return str(payload["access_token"]), float(payload.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            raise ProactiveEventsError("token response has no access_token", response.status_code,
                                       response.text) from None

    # -- events ----------------------------------------------------------------------------------------------

    def send_order_status(
        self,
        user_id: str,
        order_status: str,
        seller_name: str,
        expected_arrival: datetime | None,
        reference_id: str,
        expiry_minutes: int = MAX_EXPIRY_MINUTES,
    ) -> dict[str, Any]:
        """Post one AMAZON.OrderStatus.Updated event to ``user_id``; returns the event body that was sent."""
        event = order_status_event(
            user_id=user_id, order_status=order_status, seller_name=seller_name,
            expected_arrival=expected_arrival, reference_id=reference_id, now=self._clock(),
            expiry_minutes=expiry_minutes, locales=self._locales,
        )
        self.send_event(event)
        return event

    def send_event(self, event: dict[str, Any]) -> None:
        response = self._post_event(event, self.access_token())
        if response.status_code == 401:
            response = self._post_event(event, self.access_token(force_refresh=True))
        if response.status_code >= 400:
            raise ProactiveEventsError(
                f"proactive event refused with HTTP {response.status_code}: {response.text}",
                response.status_code, response.text,
            )

    def _post_event(self, event: dict[str, Any], token: str) -> requests.Response:
        return self._post(self.events_url, json=event, headers={"Authorization": f"Bearer {token}"})

    def _post(self, url: str, **kwargs: Any) -> requests.Response:
        try:
            return self._session.post(url, timeout=self._timeout, **kwargs)
        except requests.RequestException as exc:
            raise ProactiveEventsError(f"could not reach {url}: {exc}") from None


# Message kinds (snake_case or event class names) that have an Alexa order status; others are not sent.
KIND_TO_STATUS = {
    "order_placed": "ORDER_RECEIVED",
    "order_submitted": "ORDER_RECEIVED",
    "order_confirmed": "ORDER_PREPARING",
    "order_shipped": "ORDER_SHIPPED",
    "order_out_for_delivery": "ORDER_OUT_FOR_DELIVERY",
    "order_delivered": "ORDER_DELIVERED",
}


def _snake(kind: str) -> str:
    out = []
    for i, ch in enumerate(kind):
        if ch.isupper() and i:
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


class AlexaNotifier:
    """A notifier backend (``channel`` + ``send(message)``) that turns order messages into Alexa notifications.

    ``user_id_for(household_id)`` returns the household's Alexa user id, or None when it has not linked the
    skill; such messages, and kinds with no Alexa order status (cancelled, failed), are skipped.
    ``message.data`` may carry ``expected_delivery`` (datetime or ISO string).
    """

    channel = "alexa"

    def __init__(self, client: ProactiveEventsClient, user_id_for: Callable[[str], str | None],
                 seller_name: str = "Replenish", allowed: Callable[[str], bool] | None = None):
        self._client = client
        self._user_id_for = user_id_for
        self._seller_name = seller_name
        self._allowed = allowed  # the household's Alexa user granted the permission (and subscribed)

    def send(self, message: Any) -> None:
        status = KIND_TO_STATUS.get(_snake(message.kind))
        user_id = self._user_id_for(message.household_id) if status else None
        if not status or not user_id:
            return
        if self._allowed is not None and not self._allowed(message.household_id):
            return  # no consent recorded: Amazon would refuse it, and the household did not ask for it
        arrival = message.data.get("expected_delivery") if message.data else None
        if isinstance(arrival, str):
            arrival = datetime.fromisoformat(arrival.replace("Z", "+00:00"))
        if isinstance(arrival, datetime) and arrival.tzinfo is None:
            arrival = arrival.replace(tzinfo=UTC)
        reference = f"{message.order_id or uuid.uuid4().hex}-{status.lower()}"
        try:
            self._client.send_order_status(user_id, status, self._seller_name, arrival, reference)
        except ProactiveEventsError as exc:
            if exc.transient:
                from replenish.services.ports import TransientError

                raise TransientError(str(exc)) from exc
            raise
