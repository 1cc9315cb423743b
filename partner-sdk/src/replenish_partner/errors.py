"""The one exception the SDK raises for an answer it cannot accept."""
from __future__ import annotations

from typing import Any


class PartnerError(Exception):
    """An error answer of the API (``status`` its HTTP status, ``code`` its ``error.code``, ``body`` all of it),
    or a webhook that does not verify (401, code ``bad_signature``)."""

    def __init__(self, status: int, body: Any):
        error = body.get("error", {}) if isinstance(body, dict) else {}
        error = error if isinstance(error, dict) else {}
        super().__init__(f"{status} {error.get('code', '')}: {error.get('message', body)}")
        self.status, self.body, self.code = status, body, error.get("code")
