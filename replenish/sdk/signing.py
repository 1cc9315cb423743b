"""The signing scheme of the HTTP retailer protocol, and the keys of partner webhook secrets. (Inbound button and
partner requests are signed with RFC 9421 instead: see ``http_signatures``; outbound partner webhooks follow
Standard Webhooks, signed and verified with the ``standardwebhooks`` package from the key ``webhook_key`` gives.)

``X-Replenish-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>[,v1=...]``. A sender
rotating secrets signs with each (several v1 values); one match is enough. Standard library only.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from datetime import datetime
from typing import Iterable

TOLERANCE = 300
WEBHOOK_SECRET_PREFIX = "whsec_"
WEBHOOK_TOLERANCE = 300  # the standardwebhooks package's (it hard-codes 5 minutes)


def webhook_key(secret: str) -> bytes:
    """The HMAC key of a partner webhook secret, the same on our side (signing) and in the SDK (verifying).

    Secrets made now are ``whsec_`` + standard base64 of 32 random bytes: the key is those bytes, as in every
    Standard Webhooks library. Secrets made before are ``whsec_`` + a urlsafe token (43 characters, unpadded),
    never valid standard base64 (checked strictly: alphabet and padding), and there may be some in databases.
    Rather than the lenient decoding of the ``standardwebhooks`` package (it drops ``-`` and ``_``, and fails or
    not on the padding that is left), their key is the UTF-8 bytes of the part after ``whsec_``: a partner still
    on such a secret verifies with our SDK (which does the same) or ``Webhook(secret[6:].encode())`` of any
    Standard Webhooks library, or rotates to a new secret."""
    text = secret[len(WEBHOOK_SECRET_PREFIX):] if secret.startswith(WEBHOOK_SECRET_PREFIX) else secret
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text.encode()


def _digest(secret: str | bytes, body: bytes, t: int) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, str(t).encode() + b"." + body, hashlib.sha256).hexdigest()


def sign(secret: str | bytes, body: bytes, t: int | None = None) -> str:
    """The header value for ``body`` signed with one secret at unix time ``t`` (default now)."""
    return sign_all([secret], body, t)


def sign_all(secrets: Iterable[str | bytes], body: bytes, t: int | None = None) -> str:
    t = int(time.time()) if t is None else int(t)
    return ",".join([f"t={t}"] + [f"v1={_digest(secret, body, t)}" for secret in secrets])


def parse(header: str | None) -> tuple[int | None, list[str]]:
    """(t, [v1 values]) of a header; t is None when missing or malformed. Unknown schemes are ignored."""
    t, candidates = None, []
    for part in (header or "").split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if name == "t":
            try:
                t = int(value)
            except ValueError:
                return None, []
        elif name == "v1":
            candidates.append(value.strip())
    return t, candidates


def verify(secrets: Iterable[str | bytes], header: str | None, body: bytes | str,
           now: float | datetime | None = None, tolerance: float = TOLERANCE) -> bool:
    """True when a v1 value in ``header`` is ``body`` signed by one of ``secrets`` within ``tolerance`` s."""
    if isinstance(body, str):
        body = body.encode()
    if isinstance(now, datetime):
        now = now.timestamp()
    now = time.time() if now is None else now
    t, candidates = parse(header)
    if t is None or not candidates or abs(now - t) > tolerance:
        return False
    matched = False
    for secret in secrets:
        expected = _digest(secret, body, t).encode()
        for candidate in candidates:
            # Compare with every candidate, so timing does not tell which one matched.
            matched |= hmac.compare_digest(expected, candidate.encode("ascii", "replace"))
    return matched
