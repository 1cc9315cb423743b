"""What the button and partner blueprints share: RFC 9421 signatures (``signatures``), replay refusal by
``(keyid, nonce)`` in the database, ``Idempotency-Key`` handling, and rate limits.

The order of checks for a signed request: too many failed authentications from this address or with this keyid
(429, ``replenish.web.throttle``), the signature (401, counted as a failure), who the key belongs to and what it
may do (401 / 404), rate limits (429), then the signed-request log: the first request with a nonce is answered
and its answer kept; a byte-identical repeat gets that answer again; another request with the nonce is a 401. A
guard that cannot run refuses (503): only the rate limits and the failure throttle, which protect capacity and not
money, allow when Redis is down.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

from flask import Response, current_app, g, request

from replenish.config import Settings
from replenish.devices.web import signatures
from replenish.web import throttle
from replenish.web.auth import container
from replenish.web.errors import ApiError

log = logging.getLogger(__name__)
_SETTING_OF_ENV = {env: name for name, env in Settings.env_names().items()}


def _tools() -> dict:
    """Per-app helpers, made on first use."""
    tools = current_app.extensions.get("replenish_devices")
    if tools is None:
        from replenish.adapters.redis_store import IdempotencyStore, RateLimiter
        from replenish.devices.adapters.repository import DeviceLookups
        from replenish.devices.adapters.signed_requests import SignedRequestLog
        c = container()
        tools = {"idempotency": IdempotencyStore(c.redis), "rates": RateLimiter(c.redis),
                 "lookups": DeviceLookups(c.engine), "signed": SignedRequestLog(c.engine)}
        current_app.extensions["replenish_devices"] = tools
    return tools


def lookups():
    """Reads that authenticate a request (signing keys) before any unit of work starts."""
    return _tools()["lookups"]


def signed_log():
    return _tools()["signed"]


def _limit(env_name: str, default: str) -> tuple[int, float]:
    """The limit the Settings field read from ``env_name`` holds (``REPLENISH_BUTTON_RATE``: ``button_rate``)."""
    settings = container().settings
    raw = getattr(settings, _SETTING_OF_ENV[env_name], None) or default
    count, _, seconds = str(raw).partition("/")
    return max(1, int(count)), float(seconds or 60)


def _rate_limited(decision) -> ApiError:
    retry = max(1, int(decision.retry_after + 0.999))
    return ApiError(429, "rate_limited", f"Too many requests; retry in {retry} s.",
                    headers={"Retry-After": str(retry)})


def rate_limit(limits) -> None:
    """Counts ``limits`` ((key, env name, default), in order) in one Redis round trip; 429 over one."""
    decision = _tools()["rates"].check([(key, *_limit(env_name, default)) for key, env_name, default in limits])
    if not decision.allowed:
        raise _rate_limited(decision)


def _guarded(check: Callable[[], object]):
    """Runs a guard: its own refusals pass through; anything else it raises is a 503, never a pass."""
    try:
        return check()
    except ApiError:
        raise
    except Exception as exc:
        from sqlalchemy.exc import OperationalError
        if isinstance(exc, OperationalError):
            raise
        log.exception("request guard failed; refusing the request")
        raise ApiError(503, "guard_unavailable", "The request could not be checked just now; try again shortly.",
                       headers={"Retry-After": "1"}) from exc


def _response_of(call) -> Response:
    """``call()`` as a response, with the app's error handlers turning a refusal into its 4xx answer."""
    try:
        return current_app.make_response(call())
    except Exception as exc:  # noqa: BLE001 - rendered exactly as the app would render it, then kept
        return current_app.make_response(current_app.handle_user_exception(exc))


def signed(resolve, call, limits_of=lambda verified: ()):
    """A request signed by a key that ``resolve`` knows (keyid -> (secret, principal) or None), rate limited by
    ``limits_of(verified)`` (which may also refuse: a key used out of its scope), answered once per nonce."""
    credential = throttle.keyid_credential(signatures.claimed_keyid())
    throttle.refuse_if_over(credential)
    try:
        verified = _guarded(lambda: signatures.verify(resolve))
        g.signed = verified
        limits = limits_of(verified)
    except ApiError as exc:
        _count_failure(exc, credential)
        raise
    _guarded(lambda: rate_limit(limits))
    from replenish.devices.adapters.signed_requests import ANSWERED, CONFLICT, NEW
    log_ = signed_log()
    seen = _guarded(lambda: log_.begin(verified.key_id, verified.nonce, verified.fingerprint, container().clock()))
    if seen.outcome == CONFLICT:
        refused = signatures.unauthorized("This nonce was already used by another request (replay).", field="nonce")
        _count_failure(refused, credential)
        raise refused
    if seen.outcome == ANSWERED:
        response = Response(seen.body, status=seen.status_code, mimetype="application/json")
        response.headers["Signature-Replayed"] = "true"
        return response
    if seen.outcome != NEW:
        raise ApiError(409, "in_progress", "This signed request is still being answered; retry shortly.",
                       field="nonce", headers={"Retry-After": "1"})
    try:
        response = _response_of(lambda: run_idempotent(f"key:{verified.key_id}", call))
    except BaseException:
        log_.forget(verified.key_id, verified.nonce)
        raise
    if response.status_code < 500:
        log_.finish(verified.key_id, verified.nonce, response.status_code, response.get_data())
    else:
        log_.forget(verified.key_id, verified.nonce)
    return response


def _count_failure(exc: ApiError, credential) -> None:
    """A 401 of a request that was signed (or tried to be) is a failed authentication (``throttle``)."""
    if exc.status == 401 and ("Signature" in request.headers or "Signature-Input" in request.headers):
        throttle.failed("signature", credential, exc.message)


def run_idempotent(scope: str, call):
    """Stores the first response to a creating request under its Idempotency-Key for 24 h and replays it;
    the same key with another body is a 422."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
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
        response = current_app.make_response(call())
    except Exception:
        store.release(scope, key)
        raise
    if response.status_code < 500:
        store.save(scope, key, fp, response.status_code, response.get_data(), {})
    else:
        store.release(scope, key)
    return response


def idempotent(scope_of):
    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            return run_idempotent(scope_of(), lambda: view(*args, **kwargs))
        return wrapper
    return decorate
