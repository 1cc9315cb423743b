"""The signing scheme of the HTTP retailer protocol (``http_retailer``): every request we send a retailer carries

``X-Replenish-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>[,v1=...]``.

A sender rotating secrets signs with each (several v1 values); one match is enough for ``verify`` (what a
retailer checks). Standard library only.
(Buttons and partners sign with RFC 9421 and partner webhooks follow Standard Webhooks: see the partner SDK,
``replenish_partner``.)
"""
from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable
from datetime import datetime

SIGNATURE_HEADER = "X-Replenish-Signature"
TOLERANCE = 300


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
