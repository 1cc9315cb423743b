"""Outbound partner webhooks over HTTP, signed like the inbound requests."""
from __future__ import annotations

import requests

from replenish.services.ports import PermanentError, TransientError

try:  # the shared signing scheme, when the HTTP retailer adapter is present
    from replenish.adapters.http_retailer import sign as _sign_one
except ImportError:  # pragma: no cover - same scheme, kept here so webhooks never depend on it
    import hashlib
    import hmac

    def _sign_one(secret, body: bytes, t: int) -> str:
        key = secret.encode() if isinstance(secret, str) else secret
        return f"t={int(t)},v1=" + hmac.new(key, str(int(t)).encode() + b"." + body, hashlib.sha256).hexdigest()

SIGNATURE_HEADER = "X-Replenish-Signature"


def sign_all(secrets: list[str], body: bytes, t: int) -> str:
    """``t=<t>,v1=<hex>[,v1=<hex>...]``: one v1 per active secret, so a partner mid-rotation verifies with
    either its old or its new secret."""
    parts = [f"t={int(t)}"]
    for secret in secrets:
        parts.append(_sign_one(secret, body, t).split(",", 1)[1])
    return ",".join(parts)


class HttpWebhookSender:
    def __init__(self, timeout: float = 5.0, session: requests.Session | None = None):
        self.timeout = timeout
        self.session = session or requests.Session()

    def post(self, url: str, body: bytes, headers: dict) -> int:
        """The response status. Raises TransientError when the partner could not be reached."""
        if not url.startswith(("http://", "https://")):
            raise PermanentError(f"not an http(s) webhook URL: {url!r}")
        try:
            response = self.session.post(url, data=body, headers=headers, timeout=self.timeout,
                                         allow_redirects=False)
        except requests.RequestException as exc:
            raise TransientError(f"webhook to {url} failed: {type(exc).__name__}") from exc
        return response.status_code
