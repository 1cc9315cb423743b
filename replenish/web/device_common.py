"""What the button and partner blueprints share: request signatures with replay refusal, Idempotency-Key
handling, and rate limits. Redis backs all three and, as elsewhere, is an accelerator: when it is down the
database's unique indexes still stop double orders."""
from __future__ import annotations

import hashlib
import logging
import os
import time
from functools import wraps
from typing import NamedTuple

from flask import Response, current_app, g, request

from replenish.sdk.signing import SIGNATURE_HEADER, TOLERANCE
from replenish.sdk.signing import verify as verify_signature

from .auth import container
from .errors import ApiError

log = logging.getLogger(__name__)


def _tools() -> dict:
    """Per-app Redis helpers, made on first use."""
    tools = current_app.extensions.get("replenish_devices")
    if tools is None:
        from replenish.adapters.device_repository import DeviceLookups
        from replenish.adapters.redis_store import IdempotencyStore, RateLimiter
        c = container()
        client = c.redis
        tools = {"idempotency": IdempotencyStore(client), "rates": RateLimiter(client), "redis": client,
                 "lookups": DeviceLookups(c.engine)}
        current_app.extensions["replenish_devices"] = tools
    return tools


def lookups():
    """Reads that authenticate a request (button secrets, partner keys) before any unit of work starts."""
    return _tools()["lookups"]


def unauthorized(message: str, field: str = SIGNATURE_HEADER) -> ApiError:
    return ApiError(401, "unauthorized", message, field=field)


def verify(secrets: list[str], fresh_secrets=None) -> str:
    """401 unless the raw body is signed by one of ``secrets`` within the tolerance. Returns the header.
    ``fresh_secrets``, when given, reads the secrets again for a signature the (kept) ``secrets`` refuse."""
    header = request.headers.get(SIGNATURE_HEADER)
    if not header:
        raise unauthorized(f"Sign the request: {SIGNATURE_HEADER}: t=<unix>,v1=<hex HMAC-SHA256>.")
    body = request.get_data(cache=True)
    now = time.time()
    if not verify_signature([secret for secret in secrets if secret], header, body, now, TOLERANCE) and (
            fresh_secrets is None or
            not verify_signature([secret for secret in fresh_secrets() if secret], header, body, now, TOLERANCE)):
        raise unauthorized("The signature does not match, or is older than 300 seconds.")
    return header


def _limit(env_name: str, default: str) -> tuple[int, float]:
    raw = (container().settings.extra or {}).get(env_name) or os.environ.get(env_name) or default
    count, _, seconds = str(raw).partition("/")
    return max(1, int(count)), float(seconds or 60)


def _rate_limited(decision) -> ApiError:
    retry = max(1, int(decision.retry_after + 0.999))
    return ApiError(429, "rate_limited", f"Too many requests; retry in {retry} s.",
                    headers={"Retry-After": str(retry)})


def rate_limit(key: str, env_name: str, default: str) -> None:
    limit, per = _limit(env_name, default)
    decision = _tools()["rates"].hit(key, limit, per)
    if not decision.allowed:
        raise _rate_limited(decision)


class Guard(NamedTuple):
    """What ``guard`` checks for a request, for a call that checks it in a round trip of its own
    (``RateLimiter.guard_then_add``): the limits (key, limit, seconds), the replay key and how long it is kept."""
    limits: list
    seen_key: str | None
    seen_ttl: float


def guard_for(limits, scope: str | None = None, header: str | None = None) -> Guard:
    seen = f"sigseen:{scope}:{hashlib.sha256(header.encode()).hexdigest()}" if header else None
    return Guard([(key, *_limit(env_name, default)) for key, env_name, default in limits], seen, TOLERANCE + 60)


def enforce(decision) -> None:
    """401 for a replayed signed request, 429 over a rate limit."""
    from replenish.adapters.redis_store import REPLAYED
    if decision == REPLAYED:
        raise unauthorized("This signed request was already received (replay).")
    if not decision.allowed:
        raise _rate_limited(decision)


def guard(limits, scope: str | None = None, header: str | None = None) -> None:
    """Rate limits ``limits`` ((key, env name, default), in order) and then, given the ``scope`` and ``header``
    of a signed request, its replay refusal: one Redis round trip for all of them."""
    check(guard_for(limits, scope, header))


def check(checked: Guard) -> None:
    """``guard``, for a ``Guard`` already made."""
    try:
        decision = _tools()["rates"].guard(*checked)
    except Exception as exc:  # Redis down: the one-in-flight rule still guards orders
        log.warning("Redis unreachable, replay check and rate limits skipped: %s", exc)
        return
    enforce(decision)


def rates():
    return _tools()["rates"]


def run_idempotent(scope: str, call, before=None):
    """Stores the first response to a creating request under its Idempotency-Key for 24 h and replays it;
    the same key with another body is a 422. ``before`` runs only for a request not seen before (the replay
    refusal of signed requests: a retried request with its key gets its first answer, not a 401)."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        if before:
            before()
        return call()
    if not 1 <= len(key) <= 200 or not key.isprintable():
        raise ApiError(400, "invalid", "Idempotency-Key must be 1 to 200 printable characters.",
                       field="Idempotency-Key")
    from replenish.adapters.redis_store import fingerprint
    store = _tools()["idempotency"]
    fp = fingerprint(request.method, request.path, request.get_data(cache=True))
    begun = store.begin(scope, key, fp)
    if begun.is_conflict:
        raise ApiError(422, "idempotency_key_reused",
                       "This Idempotency-Key was used with a different request.", field="Idempotency-Key")
    if begun.is_in_progress:
        raise ApiError(409, "idempotency_in_progress", "A request with this Idempotency-Key is still "
                       "being processed; retry shortly.", field="Idempotency-Key", headers={"Retry-After": "1"})
    if begun.is_replay:
        response = Response(begun.body, status=begun.status, mimetype="application/json")
        response.headers["Idempotent-Replayed"] = "true"
        return response
    try:
        if before:
            before()
        response = current_app.make_response(call())
    except Exception:
        store.release(scope, key)
        raise
    if response.status_code < 500:
        store.save(scope, key, fp, response.status_code, response.get_data(), {})
    else:
        store.release(scope, key)
    return response


def signed(scope: str, secrets: list[str], call, limits=(), fresh_secrets=None, guards_itself: bool = False):
    """A signed, replay-refusing, idempotent call. ``limits`` (see ``guard``) are counted for a correctly
    signed request, in the same Redis round trip as its replay check. ``fresh_secrets``: see ``verify``.
    ``guards_itself``: ``call`` is given the ``Guard`` and checks it itself, together with its own Redis work."""
    header = verify(secrets, fresh_secrets)
    if guards_itself:
        return run_idempotent(scope, lambda: call(guard_for(limits, scope, header)))
    return run_idempotent(scope, call, before=lambda: guard(limits, scope, header))


def idempotent(scope_of):
    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            return run_idempotent(scope_of(), lambda: view(*args, **kwargs))
        return wrapper
    return decorate


def principal() -> str:
    return getattr(g, "scope", None) or "anonymous"
