"""Outbound partner webhooks over HTTP, signed per Standard Webhooks (https://www.standardwebhooks.com/) with the
``standardwebhooks`` package."""
from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime

import requests
from standardwebhooks.webhooks import Webhook

from replenish.services.ports import PermanentError, TransientError
from replenish_partner.webhooks import webhook_key


def webhook_headers(secrets: Iterable[str], msg_id: str, body: bytes, now: datetime) -> dict[str, str]:
    """``webhook-id`` (``msg_id``: the same on every attempt, so the partner can drop a retry it already has),
    ``webhook-timestamp`` (``now``, the attempt's time, in unix seconds) and ``webhook-signature``: one
    ``v1,<base64 HMAC-SHA256>`` per secret, space-separated, so that a partner rotating its secrets verifies
    with either. No ``webhook-signature`` without a secret."""
    t = math.floor(now.timestamp())
    at = datetime.fromtimestamp(t, UTC)  # the header's second is exactly what is signed
    signatures = " ".join(Webhook(webhook_key(secret)).sign(msg_id, at, body) for secret in secrets)
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(t)}
    if signatures:
        headers["webhook-signature"] = signatures
    return headers


class HttpWebhookSender:
    def __init__(self, timeout: float = 5.0, session: requests.Session | None = None):
        self.timeout = timeout
        self.session = session or requests.Session()

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        """The response status. Raises TransientError when the partner could not be reached."""
        if not url.startswith(("http://", "https://")):
            raise PermanentError(f"not an http(s) webhook URL: {url!r}")
        try:
            response = self.session.post(url, data=body, headers=headers, timeout=self.timeout,
                                         allow_redirects=False)
        except requests.RequestException as exc:
            raise TransientError(f"webhook to {url} failed: {type(exc).__name__}") from exc
        return response.status_code
