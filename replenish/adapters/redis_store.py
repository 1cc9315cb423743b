"""Redis-backed locks, idempotency records and rate limits.

Redis is an accelerator for idempotency records and rate limits, never the source of truth: the
database's unique constraints guard against double orders, so when Redis is unreachable those
fail open (with a warning) and ordering carries on. Locks are different: what they guard (a
member's own spending caps, checked and then placed) has no database constraint behind it, so
a lock that cannot be taken is refused (``LockUnavailable``, transient) rather than skipped.
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import overload

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import LockNotOwnedError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.lock import Lock

from replenish.services.ports import TransientError

log = logging.getLogger(__name__)

UNAVAILABLE = (RedisConnectionError, RedisTimeoutError)


@overload
def _text(value: None) -> None: ...
@overload
def _text(value: bytes | str | int) -> str: ...
def _text(value: bytes | str | int | None) -> str | None:
    """Clients may or may not decode responses; accept both."""
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


# --- locks -----------------------------------------------------------------------------------


class LockTimeout(TransientError):
    """Another holder kept the lock longer than we were willing to wait.

    Transient: workers retry it and the web layer answers 503, as for any busy dependency."""

    public_message = "Another order by the same person is being placed right now; try again in a moment."


class LockUnavailable(TransientError):
    """Redis could not be asked for the lock: nothing ran under it. Transient, like ``LockTimeout``."""

    public_message = "Orders that need a member's own limits checked are paused for a moment; try again shortly."


@dataclass(frozen=True)
class LockHandle:
    name: str
    held: bool  # False when running without a lock (NullLocks)
    token: str | None = None


POLL = 0.05  # seconds between two tries while waiting for a lock


class RedisLocks:
    """``Locks`` on redis-py's ``Lock``: SET NX PX with a random token; only the holder's token releases.

    ``timeout`` is how long the lock lives if its holder dies; ``wait`` how long to queue for it (tried every
    ``poll`` seconds until ``wait`` has passed; 0: one try), then ``LockTimeout``. Redis unreachable when taking it:
    ``LockUnavailable``, and the block does not run. Redis unreachable when letting go: logged, the lock expires.
    """

    def __init__(self, client: Redis, prefix: str = "lock:", poll: float = POLL):
        self.client = client
        self.prefix = prefix
        self.poll = poll

    @contextlib.contextmanager
    def hold(self, name: str, timeout: float = 10.0, wait: float = 5.0) -> Iterator[LockHandle]:
        if timeout <= 0:
            raise ValueError("lock timeout must be positive")
        # blocking_timeout: redis-py gives up when its next try would come after it, so one poll more makes the
        # last try come after ``wait`` has passed.
        lock = self.client.lock(self.prefix + name, timeout=timeout, sleep=self.poll, blocking=wait > 0,
                                blocking_timeout=max(0.0, wait) + self.poll, thread_local=False)
        token = secrets.token_hex(16)
        try:
            acquired = lock.acquire(token=token)
        except UNAVAILABLE as exc:
            log.warning("Redis unreachable, lock %r not taken (refused): %s", name, exc)
            raise LockUnavailable(f"lock {name!r} could not be taken: Redis is not answering") from exc
        if not acquired:
            raise LockTimeout(f"lock {name!r} still held by another worker after {wait:.1f}s")
        try:
            yield LockHandle(name, held=True, token=token)
        finally:
            self._let_go(lock, name)

    @staticmethod
    def _let_go(lock: Lock, name: str) -> None:
        try:
            lock.release()
        except LockNotOwnedError:
            log.warning("lock %r expired before its holder finished; someone else may hold it now", name)
        except UNAVAILABLE as exc:
            log.warning("Redis unreachable releasing lock %r; it will expire on its own: %s", name, exc)


class NullLocks:
    """``Locks`` that lock nothing: for unit tests and single-threaded tools."""

    @contextlib.contextmanager
    def hold(self, name: str, timeout: float = 10.0, wait: float = 5.0) -> Iterator[LockHandle]:
        yield LockHandle(name, held=False)


# --- idempotency -----------------------------------------------------------------------------


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What makes two requests "the same request": method, path and the exact body bytes."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body or b""):
        digest.update(len(part).to_bytes(8, "big"))  # length-prefixed: no ambiguous concatenation
        digest.update(part)
    return digest.hexdigest()


NEW, REPLAY, CONFLICT, IN_PROGRESS = "new", "replay", "conflict", "in_progress"


@dataclass(frozen=True)
class Begin:
    outcome: str  # new | replay | conflict | in_progress
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    degraded: bool = False  # True when Redis was unreachable and nothing was recorded

    @property
    def is_new(self) -> bool:
        return self.outcome == NEW

    @property
    def is_replay(self) -> bool:
        return self.outcome == REPLAY

    @property
    def is_conflict(self) -> bool:
        return self.outcome == CONFLICT

    @property
    def is_in_progress(self) -> bool:
        return self.outcome == IN_PROGRESS


# Record: hash {state: pending|done, fp, status, headers (JSON), body (base64)}.
_BEGIN = """
local fp = redis.call('HGET', KEYS[1], 'fp')
if not fp then
  redis.call('HSET', KEYS[1], 'state', 'pending', 'fp', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {'new'}
end
if fp ~= ARGV[1] then
  return {'conflict'}
end
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'done' then
  return {'in_progress'}
end
local saved = redis.call('HMGET', KEYS[1], 'status', 'headers', 'body')
return {'replay', saved[1], saved[2], saved[3]}
"""

_SAVE = """
local fp = redis.call('HGET', KEYS[1], 'fp')
if fp and fp ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'state', 'done', 'fp', ARGV[1], 'status', ARGV[2], 'headers', ARGV[3], 'body', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""

_RELEASE_PENDING = """
if redis.call('HGET', KEYS[1], 'state') == 'pending' then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class IdempotencyStore:
    """Remembers responses by (scope, Idempotency-Key) so that a retried request gets the
    first answer instead of acting twice.

    ``begin`` marks the key "in progress" for ``in_progress_ttl`` seconds (long enough for one
    request; short so a crashed worker does not block the key for a day); ``save`` stores the
    response for ``ttl_seconds``; ``release`` forgets an in-progress mark so the client may retry.
    """

    MAX_KEY_LENGTH = 255

    def __init__(self, client: Redis, ttl_seconds: float = 86400, prefix: str = "idem:", in_progress_ttl: float = 60):
        self.client = client
        self.ttl_ms = max(1, int(ttl_seconds * 1000))
        self.pending_ms = max(1, int(in_progress_ttl * 1000))
        self.prefix = prefix
        self._begin = client.register_script(_BEGIN)
        self._save = client.register_script(_SAVE)
        self._release = client.register_script(_RELEASE_PENDING)

    def _key(self, scope: str, key: str) -> str:
        if not key or len(key) > self.MAX_KEY_LENGTH:
            raise ValueError(f"idempotency key must be 1..{self.MAX_KEY_LENGTH} characters")
        return f"{self.prefix}{scope}:{key}"

    def begin(self, scope: str, key: str, request_fingerprint: str) -> Begin:
        redis_key = self._key(scope, key)
        try:
            reply = self._begin(keys=[redis_key], args=[request_fingerprint, self.pending_ms])
        except UNAVAILABLE as exc:
            # The database's unique constraints still stop a double order.
            log.warning("Redis unreachable, idempotency for %s not recorded: %s", redis_key, exc)
            return Begin(NEW, degraded=True)
        outcome = _text(reply[0])
        if outcome != REPLAY:
            return Begin(outcome)
        status, headers, body = (_text(v) for v in reply[1:4])
        return Begin(
            REPLAY,
            status=int(status),
            headers=json.loads(headers or "{}"),
            body=base64.b64decode(body or ""),
        )

    def save(self, scope: str, key: str, fingerprint: str, status: int, body: bytes, headers: dict[str, str]
             ) -> bool:
        """Store the response to replay; False if the key belongs to a different request or
        Redis is unreachable."""
        redis_key = self._key(scope, key)
        headers_json = json.dumps({str(k): str(v) for k, v in (headers or {}).items()}, sort_keys=True)
        body_b64 = base64.b64encode(body or b"").decode()
        try:
            return bool(self._save(keys=[redis_key], args=[fingerprint, int(status), headers_json, body_b64,
                                                          self.ttl_ms]))
        except UNAVAILABLE as exc:
            log.warning("Redis unreachable, response for %s not saved: %s", redis_key, exc)
            return False

    def release(self, scope: str, key: str) -> None:
        """Drop an in-progress mark (the request failed with nothing worth replaying).
        A saved response is kept."""
        redis_key = self._key(scope, key)
        try:
            self._release(keys=[redis_key])
        except UNAVAILABLE as exc:
            log.warning("Redis unreachable releasing %s; the mark expires on its own: %s", redis_key, exc)


# --- rate limits -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    remaining: int
    retry_after: float  # seconds until the next hit would be allowed; 0 when allowed


# GCRA (generic cell rate algorithm): one timestamp per key (the "theoretical arrival time").
# Allows bursts of `limit` and then one hit every per/limit seconds; a full `per` of quiet
# restores the whole burst. Times are microseconds from the Redis clock so that every app
# server agrees. Floats are returned as integer strings: Redis truncates Lua numbers.
_GCRA = """
if redis.replicate_commands then pcall(redis.replicate_commands) end  -- Redis < 5: TIME before writes
local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) * 1000000 + tonumber(now_t[2])
local limit = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local interval = period / limit
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + interval
local ahead = new_tat - now
if ahead > period then
  local wait = ahead - period
  return {0, 0, string.format('%.0f', math.ceil(wait))}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil(ahead / 1000) + 1)
return {1, math.floor((period - ahead) / interval), '0'}
"""


# Several rate limits in one round trip, in order, stopping at the first that refuses: for KEYS[i], a GCRA hit
# with (limit, period) from ARGV[2i - 1], ARGV[2i], exactly as _GCRA above; a refusal answers {0, 0, wait, i}
# and counts no later limit. All allowed: {1}.
_LIMITS = """
if redis.replicate_commands then pcall(redis.replicate_commands) end
local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) * 1000000 + tonumber(now_t[2])
for i = 1, #KEYS do
  local limit = tonumber(ARGV[2 * i - 1])
  local period = tonumber(ARGV[2 * i])
  local interval = period / limit
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  local new_tat = tat + interval
  local ahead = new_tat - now
  if ahead > period then
    return {0, 0, string.format('%.0f', math.ceil(ahead - period)), i}
  end
  redis.call('SET', KEYS[i], string.format('%.0f', new_tat), 'PX', math.ceil(ahead / 1000) + 1)
end
return {1}
"""

UNLIMITED_LOG_EVERY = 60.0  # seconds between two warnings that rate limits are not enforced


class RateLimiter:
    """GCRA rate limits in Redis. They protect capacity, not money (the database's rules guard orders and the
    signed-request log refuses replays), so with Redis unreachable they allow, and say so once a minute."""

    def __init__(self, client: Redis, prefix: str = "rl:", clock: Callable[[], float] = time.monotonic):
        self.client = client
        self.prefix = prefix
        self._gcra = client.register_script(_GCRA)
        self._limits = client.register_script(_LIMITS)
        self._clock = clock
        self._warned_at: float | None = None

    def _unenforced(self, exc: Exception) -> None:
        now = self._clock()
        if self._warned_at is None or now - self._warned_at >= UNLIMITED_LOG_EVERY:
            self._warned_at = now
            log.warning("Redis unreachable: rate limits are not enforced (said once a minute): %s", exc)

    def check(self, limits: list[tuple[str, int, float]]) -> RateDecision:
        """Each of ``limits`` (key, limit, per_seconds) counted in order in one round trip, as ``hit`` would;
        the first refusal is answered and later limits are not counted."""
        keys: list[str] = []
        args: list[int] = []
        for key, limit, per_seconds in limits:
            if limit < 1 or per_seconds <= 0:
                raise ValueError("rate limit needs limit >= 1 and per_seconds > 0")
            keys.append(self.prefix + key)
            args += [int(limit), int(per_seconds * 1_000_000)]
        if not keys:
            return RateDecision(True, 0, 0.0)
        try:
            reply = self._limits(keys=keys, args=args)
        except UNAVAILABLE as exc:
            self._unenforced(exc)
            return RateDecision(True, 0, 0.0)
        if int(reply[0]) == 1:
            return RateDecision(True, 0, 0.0)
        return RateDecision(False, 0, int(_text(reply[2])) / 1_000_000)

    def hit(self, key: str, limit: int, per_seconds: float) -> RateDecision:
        """Count one hit against ``key``: at most ``limit`` hits per ``per_seconds``."""
        if limit < 1 or per_seconds <= 0:
            raise ValueError("rate limit needs limit >= 1 and per_seconds > 0")
        period_us = int(per_seconds * 1_000_000)
        try:
            allowed, remaining, wait_us = self._gcra(keys=[self.prefix + key], args=[int(limit), period_us])
        except UNAVAILABLE as exc:
            self._unenforced(exc)
            return RateDecision(True, limit, 0.0)
        return RateDecision(bool(int(allowed)), int(remaining), int(_text(wait_us)) / 1_000_000)
