"""Verifying the webhooks Replenish sends, which follow Standard Webhooks (https://www.standardwebhooks.com/):
``webhook-id``, ``webhook-timestamp`` (unix seconds) and ``webhook-signature`` (``v1,<base64 HMAC-SHA256>``, one
per live secret, space-separated while a partner rotates its secrets). Any Standard Webhooks library verifies
them; ``verify_webhook`` here also takes several secrets at once, a clock of your choice and the older secret
format (see ``webhook_key``)."""
from __future__ import annotations

import base64
import binascii
import hmac
import json
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from standardwebhooks.webhooks import Webhook

from .errors import PartnerError

WEBHOOK_SECRET_PREFIX = "whsec_"
WEBHOOK_TOLERANCE = 300  # seconds, either way: the standardwebhooks package's (it hard-codes 5 minutes)


def webhook_key(secret: str) -> bytes:
    """The HMAC key of a webhook secret, the same on the platform's side (signing) and here (verifying).

    Secrets made now are ``whsec_`` + standard base64 of 32 random bytes: the key is those bytes, as in every
    Standard Webhooks library. Secrets made before are ``whsec_`` + a urlsafe token (43 characters, unpadded),
    never valid standard base64 (checked strictly: alphabet and padding), and there may still be some about.
    Rather than the lenient decoding of the ``standardwebhooks`` package (it drops ``-`` and ``_``, and fails or
    not on the padding that is left), their key is the UTF-8 bytes of the part after ``whsec_``: a partner still
    on such a secret verifies with this SDK (which does the same) or ``Webhook(secret[6:].encode())`` of any
    Standard Webhooks library, or rotates to a new secret."""
    text = secret[len(WEBHOOK_SECRET_PREFIX):] if secret.startswith(WEBHOOK_SECRET_PREFIX) else secret
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text.encode()


def _refused(message: str) -> PartnerError:
    return PartnerError(401, {"error": {"code": "bad_signature", "message": message}})


def verify_webhook(secrets: Iterable[str], headers: Mapping[str, str] | Iterable[tuple[str, str]], body: bytes,
                   now: float | datetime | None = None) -> Any:
    """The webhook's JSON when it is signed per Standard Webhooks with one of ``secrets`` (``whsec_...``) at most
    ``WEBHOOK_TOLERANCE`` seconds from ``now`` (unix seconds or an aware datetime; the wall clock by default);
    raises ``PartnerError(401)`` (code ``bad_signature``) otherwise. Pass the body exactly as received (bytes)
    and the request's headers (any mapping; names are case-insensitive).

    ``standardwebhooks.Webhook.verify`` checks the timestamp against the wall clock only, so the timestamp is
    checked here against ``now``, and each signature sent is compared with the package's own signature of the
    message (``Webhook.sign``) under each secret."""
    if isinstance(body, str):
        body = body.encode()
    sent = {str(name).lower(): value for name, value in dict(headers).items()}
    msg_id, timestamp = sent.get("webhook-id"), sent.get("webhook-timestamp")
    signatures = (sent.get("webhook-signature") or "").split(" ")
    if not (msg_id and timestamp and any(signatures)):
        raise _refused("webhook-id, webhook-timestamp and webhook-signature are required")
    try:
        t = int(timestamp)
    except ValueError:
        raise _refused("webhook-timestamp is not unix seconds") from None
    now = time.time() if now is None else now
    now = now.timestamp() if isinstance(now, datetime) else now
    if abs(now - t) > WEBHOOK_TOLERANCE:
        raise _refused(f"webhook-timestamp is more than {WEBHOOK_TOLERANCE} s from now")
    at = datetime.fromtimestamp(t, UTC)
    matched = False
    for secret in secrets:
        expected = Webhook(webhook_key(secret)).sign(msg_id, at, body).encode()
        for signature in signatures:
            # Compared with every one, so timing does not tell which secret or signature matched.
            matched |= hmac.compare_digest(expected, signature.encode("ascii", "replace"))
    if not matched:
        raise _refused("webhook signature invalid")
    return json.loads(body)
