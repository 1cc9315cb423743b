"""Throttling failed authentication, per client address and per credential, with ``limits``.

What counts as a failure: a household bearer token that is not recognised (``/v1/...``), a refused dashboard
sign-in (token form, one-time link), a signed device or partner request refused with a 401 (bad signature,
unknown keyid, a key out of its scope, a reused nonce). Requests that present no credential at all and
requests that succeed are not counted.

Policy (``REPLENISH_AUTH_FAILURE_LIMIT``, ``10/minute`` by default, a moving window): ten failures use up the
window's allowance of a client address, and ten that of a credential (a token's hash prefix, a keyid). While an
allowance is used up, every request from that address or with that credential is answered 429 with
``Retry-After`` (until its oldest failure leaves the window), before the credential is even looked at.

Storage: ``limits``' ``RedisStorage`` on the container's Redis connection pool in services mode (every
process and machine shares the counts), ``MemoryStorage`` in embedded mode (one process). With Redis
unreachable the throttle allows (it protects capacity; the credential checks themselves still run) and says so
in the log once a minute.

Each failure writes one line to the ``replenish.audit`` logger: what failed, from which address, which credential
(a hash prefix of a token or link, a keyid), never the secret itself.

Client address: ``request.remote_addr``. Behind a proxy the operator wraps the app in Werkzeug's ``ProxyFix``;
``X-Forwarded-For`` is not trusted by default. IPv6 clients are counted per /64, the block one subscriber holds.
"""
from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import re
import threading
import time
from dataclasses import dataclass
from functools import lru_cache

from flask import current_app, request

from .errors import ApiError

AUDIT = logging.getLogger("replenish.audit")
log = logging.getLogger(__name__)

DEFAULT_LIMIT = "10/minute"
KEY_PREFIX = "replenish:auth-failures"
WARN_EVERY = 60.0  # seconds between two "throttle unavailable" log lines
RETRY_STORE_AFTER = 5.0  # seconds the throttle stops asking a Redis that failed (no timeout on every request)


@dataclass(frozen=True)
class Credential:
    kind: str  # "token" | "link" | "keyid"
    value: str  # a hash prefix or a keyid: safe to log

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


@dataclass(frozen=True)
class Refusal:
    scope: str  # "address" | "credential"
    retry_after: int  # seconds

    def message(self) -> str:
        whose = "from this address" if self.scope == "address" else "with this credential"
        return f"Too many failed authentication attempts {whose}; try again in {self.retry_after} s."


# -- credentials --------------------------------------------------------------------------------------------
def _prefix(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def token_credential(token: str | None) -> Credential | None:
    """A household token by the first 12 hex digits of its SHA-256: the prefix of ``api_tokens.token_hash``."""
    return Credential("token", _prefix(token)) if token else None


def link_credential(secret: str | None) -> Credential | None:
    return Credential("link", _prefix(secret)) if secret else None


def keyid_credential(key_id: str | None) -> Credential | None:
    """A signing key by its keyid (public: a button serial, ``pk_...``, a device id); a strange one by hash."""
    if not key_id:
        return None
    if len(key_id) <= 64 and re.fullmatch(r"[A-Za-z0-9._:@-]+", key_id):
        return Credential("keyid", key_id)
    return Credential("keyid", "sha256:" + _prefix(key_id))


def client_address() -> str:
    raw = request.remote_addr or "unknown"
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw[:64]
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


# -- the throttle -------------------------------------------------------------------------------------------
@lru_cache(maxsize=16)
def _parse(limit: str):
    from limits import parse
    return parse(limit)


class Throttle:
    def __init__(self, storage):
        from limits.strategies import MovingWindowRateLimiter
        self.limiter = MovingWindowRateLimiter(storage)
        self._lock = threading.Lock()
        self._warned_at = -math.inf
        self._skip_until = 0.0

    def refusal(self, limit: str, address: str, credential: Credential | None) -> Refusal | None:
        """Which allowance is used up (the address's first), or None. Allows when the store is unreachable."""
        item = _parse(limit)
        for scope, identifiers in self._identifiers(address, credential):
            stats = self._call(lambda ids=identifiers: self.limiter.get_window_stats(item, *ids))
            if stats is not None:
                reset_time, remaining = stats  # limits' WindowStats
                if remaining <= 0:
                    return Refusal(scope, max(1, math.ceil(reset_time - time.time())))
        return None

    def record(self, limit: str, address: str, credential: Credential | None) -> None:
        item = _parse(limit)
        for _, identifiers in self._identifiers(address, credential):
            self._call(lambda ids=identifiers: self.limiter.hit(item, *ids))

    @staticmethod
    def _identifiers(address: str, credential: Credential | None):
        yield "address", ("address", address)
        if credential is not None:
            yield "credential", (credential.kind, credential.value)

    def _call(self, operation):
        if time.monotonic() < self._skip_until:
            return None
        try:
            return operation()
        except _store_errors():
            now = time.monotonic()
            with self._lock:
                self._skip_until = now + RETRY_STORE_AFTER
                warn = now - self._warned_at >= WARN_EVERY
                if warn:
                    self._warned_at = now
            if warn:
                log.warning("authentication throttle unavailable (its store does not answer); allowing requests",
                            exc_info=True)
            return None


def _store_errors() -> tuple[type[BaseException], ...]:
    import redis
    from limits.errors import StorageError
    return StorageError, redis.RedisError, OSError


def make_throttle(container) -> Throttle:
    from limits.storage import MemoryStorage, RedisStorage
    url = container.settings.redis_url
    pool = getattr(container.redis, "connection_pool", None)
    storage: RedisStorage | MemoryStorage
    if url and pool is not None:
        storage = RedisStorage(url, connection_pool=pool, key_prefix=KEY_PREFIX, wrap_exceptions=True)
    else:
        storage = MemoryStorage()
    return Throttle(storage)


def _throttle() -> Throttle:
    throttle = current_app.extensions.get("replenish_throttle")
    if throttle is None:
        throttle = current_app.extensions["replenish_throttle"] = make_throttle(current_app.extensions["replenish"])
    return throttle


def _limit() -> str:
    settings = current_app.extensions["replenish"].settings
    return getattr(settings, "auth_failure_limit", "") or DEFAULT_LIMIT


# -- what the entry points call -----------------------------------------------------------------------------
def over(credential: Credential | None) -> Refusal | None:
    """None when this request may try to authenticate; else why not and for how long."""
    return _throttle().refusal(_limit(), client_address(), credential)


def api_refusal(refusal: Refusal) -> ApiError:
    return ApiError(429, "too_many_failed_attempts", refusal.message(), scope=refusal.scope,
                    retry_after=refusal.retry_after, headers={"Retry-After": str(refusal.retry_after)})


def refuse_if_over(credential: Credential | None) -> None:
    """For the JSON APIs: raises the 429 while the address or the credential has used up its allowance."""
    refusal = over(credential)
    if refusal is not None:
        raise api_refusal(refusal)


def failed(what: str, credential: Credential | None, reason: str) -> None:
    """Counts one failed authentication and writes its audit line."""
    address = client_address()
    # The route, not the path: a one-time link's path is its secret.
    route = request.url_rule.rule if request.url_rule is not None else "-"
    AUDIT.warning("authentication failed: what=%s address=%s credential=%s reason=%r route=%s",
                  what, address, credential or "-", reason[:160], route,
                  extra={"audit": {"event": "auth_failed", "what": what, "address": address,
                                   "credential": str(credential) if credential else None, "reason": reason[:160],
                                   "route": route}})
    _throttle().record(_limit(), address, credential)
