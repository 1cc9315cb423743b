"""Outbound partner webhooks over HTTP, signed like the inbound requests."""
from __future__ import annotations

import requests

from replenish.services.ports import PermanentError, TransientError

from replenish.sdk.signing import SIGNATURE_HEADER, sign_all


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
