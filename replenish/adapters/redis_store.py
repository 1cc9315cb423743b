"""Redis-backed locks, idempotency records and rate limits.

Redis is an accelerator here, never the source of truth: the database's unique constraints
guard against double orders. So when Redis is unreachable, locks and rate limits fail open
(with a warning) and ordering carries on.
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import math
import os
import random
import secrets
import time
from dataclasses import dataclass, field
from typing import Iterator

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from replenish.services.ports import TransientError

log = logging.getLogger(__name__)

UNAVAILABLE = (RedisConnectionError, RedisTimeoutError)


def _text(value) -> str | None:
    """Clients may or may not decode responses; accept both."""
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


# --- locks -----------------------------------------------------------------------------------


class LockTimeout(TransientError):
    """Another holder kept the lock longer than we were willing to wait.

    Transient: workers retry it and the web layer answers 503, as for any busy dependency."""


@dataclass(frozen=True)
class LockHandle:
    name: str
    held: bool  # False when running without a lock (NullLocks, or Redis unreachable)
    token: str | None = None


_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisLocks:
    """``Locks`` on Redis: SET NX PX with a random token; only the holder's token releases.

    ``timeout`` is how long the lock lives if its holder dies; ``wait`` how long to queue for it.
    """

    def __init__(self, client, prefix: str = "lock:"):
        self.client = client
        self.prefix = prefix
        self._release = client.register_script(_RELEASE)

    @contextlib.contextmanager
    def hold(self, name: str, timeout: float = 10.0, wait: float = 5.0) -> Iterator[LockHandle]:
        if timeout <= 0:
            raise ValueError("lock timeout must be positive")
        key = self.prefix + name
        token = secrets.token_hex(16)
        try:
            acquired = self._acquire(key, token, timeout, wait)
        except UNAVAILABLE as exc:
            log.warning("Redis unreachable, proceeding without lock %r: %s", name, exc)
            acquired = None
        if acquired is None:
            yield LockHandle(name, held=False)
            return
        if not acquired:
            raise LockTimeout(f"lock {name!r} still held by another worker after {wait:.1f}s")
        try:
            yield LockHandle(name, held=True, token=token)
        finally:
            self._let_go(key, token, name)

    def _acquire(self, key: str, token: str, timeout: float, wait: float) -> bool:
        px = max(1, int(timeout * 1000))
        deadline = time.monotonic() + max(0.0, wait)
        pause = 0.01
        while True:
            if self.client.set(key, token, nx=True, px=px):
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            # Jittered, growing pauses: waiters do not stampede when the lock frees.
            time.sleep(min(left, pause * random.uniform(0.5, 1.5)))
            pause = min(pause * 2, 0.2)

    def _let_go(self, key: str, token: str, name: str) -> None:
        try:
            if not self._release(keys=[key], args=[token]):
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

    def __init__(self, client, ttl_seconds: float = 86400, prefix: str = "idem:", in_progress_ttl: float = 60):
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

    def save(self, scope: str, key: str, fingerprint: str, status: int, body: bytes, headers: dict) -> bool:
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


# Several checks in one round trip, in order, stopping at the first that fails: for each key but the first,
# a GCRA hit with (limit, period) from ARGV[2i], ARGV[2i + 1] (i = 1, 2, ...), exactly as _GCRA above; a
# refusal answers {0, 0, wait, i}. Then, when KEYS[1] is not '', "is this signed request new?" (SET NX with
# a TTL of ARGV[1] ms); a repeat answers {-1}. All passed: {1}. A refused request is not marked seen, so
# its client may send it again once the limit allows.
_GUARD = """
if redis.replicate_commands then pcall(redis.replicate_commands) end
local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) * 1000000 + tonumber(now_t[2])
for i = 2, #KEYS do
  local limit = tonumber(ARGV[2 * i - 2])
  local period = tonumber(ARGV[2 * i - 1])
  local interval = period / limit
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  local new_tat = tat + interval
  local ahead = new_tat - now
  if ahead > period then
    return {0, 0, string.format('%.0f', math.ceil(ahead - period)), i - 1}
  end
  redis.call('SET', KEYS[i], string.format('%.0f', new_tat), 'PX', math.ceil(ahead / 1000) + 1)
end
if KEYS[1] ~= '' then
  if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return {-1} end
end
return {1}
"""


def _guard_then(then: str) -> str:
    """_GUARD whose last two KEYS are not rate limits, running the Lua ``then`` (which answers) once the request
    passes: one source for the guard's logic."""
    script = _GUARD.replace("for i = 2, #KEYS do", "for i = 2, #KEYS - 2 do").replace("return {1}\n", then)
    assert script.count("#KEYS - 2") == 1 and then in script
    return script


# _GUARD, then (the request passing) an entry added to a stream and a flag raised: KEYS end with the stream and
# the flag; ARGV after the limits' pairs: the stream's approximate maximum length, the flag's expiry (ms), then
# the entry's field/value pairs. Answers {1, 1} when the flag was raised by this call, {1, 0} when it was up.
_GUARD_THEN_ADD = _guard_then("""\
local s = 2 * #KEYS - 4
local fields = {}
for j = s + 2, #ARGV do fields[#fields + 1] = ARGV[j] end
redis.call('XADD', KEYS[#KEYS - 1], 'MAXLEN', '~', ARGV[s], '*', unpack(fields))
if redis.call('SET', KEYS[#KEYS], '1', 'NX', 'PX', ARGV[s + 1]) then return {1, 1} end
return {1, 0}
""")

# _GUARD for a button press, then (the press passing) the button's mirrored order in flight (see button_mirror):
# KEYS end with the button's order key and the hash of press times; ARGV after the limits' pairs: the serial and
# the press time (ISO 8601, UTC). Answers {1, order id} when an order is mirrored, and notes the press time
# (the later one wins); {1} when none is.
_GUARD_PRESS = _guard_then("""\
local order = redis.call('GET', KEYS[#KEYS - 1])
if not order then return {1} end
local noted = redis.call('HGET', KEYS[#KEYS], ARGV[#ARGV - 1])
if not noted or noted < ARGV[#ARGV] then redis.call('HSET', KEYS[#KEYS], ARGV[#ARGV - 1], ARGV[#ARGV]) end
return {1, order}
""")

REPLAYED = "replayed"


def _resp_command(*parts) -> bytes:
    """A command in RESP, the way redis-py's packer writes it (an array of bulk strings), in one piece: for
    the short commands of the hot path, a fraction of its CPU. (``str`` of a float is its ``repr``.)"""
    encoded = [part if isinstance(part, bytes) else str(part).encode() for part in parts]
    return b"*%d\r\n" % len(encoded) + b"".join([b"$%d\r\n%s\r\n" % (len(part), part) for part in encoded])


class ParkedScripts:
    """Runs Lua scripts on a few of a redis-py client's pooled connections, kept checked out between calls.

    Every request to the device endpoints makes one such call (its guard). Checking a connection out of
    redis-py's pool and back costs about as much CPU as the call itself: a lock, a pid check and a poll for
    stale data, every time. A parked connection skips that; one parked for over a second is polled for stale
    data as the pool would. A connection whose call fails (other than by an error reply) is disconnected and
    goes back to the pool, and at most ``keep`` are parked, so there are never more than the pool allows. In
    a forked child the parent's are forgotten."""

    def __init__(self, client, keep: int = 4):
        self.client = client
        self.keep = keep
        self._idle: list = []
        self._pid = os.getpid()
        self._sha: dict[str, str] = {}

    def _take(self):
        """(a connection, whether it was parked)."""
        if self._pid != os.getpid():
            self._idle, self._pid = [], os.getpid()
        try:
            conn, parked_at = self._idle.pop()
        except IndexError:
            return self.client.connection_pool.get_connection(), False
        if time.monotonic() - parked_at > 1.0 and conn.can_read():
            conn.disconnect()  # stale data or a closed socket: the next command connects afresh
        return conn, True

    def _give_back(self, conn, healthy: bool) -> None:
        if healthy and len(self._idle) < self.keep:
            self._idle.append((conn, time.monotonic()))
            return
        if not healthy:
            conn.disconnect()
        self.client.connection_pool.release(conn)

    def run(self, script: str, keys: list, args: list):
        """The script's reply (loaded into Redis on first use, and again if Redis forgot it). A parked
        connection the server closed meanwhile (a restart) is replaced once, as redis-py retries; a timeout is
        not retried, as the script may have run."""
        sha = self._sha.get(script)
        if sha is None:
            sha = self._sha[script] = hashlib.sha1(script.encode()).hexdigest()
        for attempt in (1, 2):
            conn, parked = self._take()
            try:
                command = _resp_command("EVALSHA", sha, len(keys), *keys, *args)
                conn.send_packed_command([command], check_health=False)
                reply = conn.read_response()
            except ResponseError as exc:  # an error reply: the connection itself is fine
                self._give_back(conn, healthy=True)
                if isinstance(exc, NoScriptError) and attempt == 1:
                    self.client.script_load(script)
                    continue
                raise
            except RedisConnectionError:
                self._give_back(conn, healthy=False)
                if parked and attempt == 1:
                    continue
                raise
            except BaseException:
                self._give_back(conn, healthy=False)
                raise
            self._give_back(conn, healthy=True)
            return reply
        raise AssertionError("unreachable")


class RateLimiter:
    def __init__(self, client, prefix: str = "rl:"):
        self.client = client
        self.prefix = prefix
        self._gcra = client.register_script(_GCRA)
        self._scripts = ParkedScripts(client)

    def _guard_keys(self, limits: list[tuple[str, int, float]], seen_key: str | None, seen_ttl: float):
        keys, args = [seen_key or ""], [max(1, int(seen_ttl * 1000))]
        for key, limit, per_seconds in limits:
            if limit < 1 or per_seconds <= 0:
                raise ValueError("rate limit needs limit >= 1 and per_seconds > 0")
            keys.append(self.prefix + key)
            args += [int(limit), int(per_seconds * 1_000_000)]
        return keys, args

    @staticmethod
    def _decision(reply) -> RateDecision | str:
        if int(reply[0]) == -1:
            return REPLAYED
        if int(reply[0]) == 1:
            return RateDecision(True, 0, 0.0)
        return RateDecision(False, 0, int(_text(reply[2])) / 1_000_000)

    def guard_then_add(self, limits: list[tuple[str, int, float]], seen_key: str | None, seen_ttl: float, *,
                       stream: str, fields: dict, max_length: int, flag: str,
                       flag_ttl_ms: int) -> tuple[RateDecision | str, bool]:
        """As ``guard``, and, when the request passes, ``fields`` added to ``stream`` and ``flag`` raised (set if
        absent, for ``flag_ttl_ms``), in the same round trip: (the decision, whether this call raised the flag).
        Unlike ``guard``, raises when Redis does not answer: the caller has nowhere to put the entry."""
        keys, args = self._guard_keys(limits, seen_key, seen_ttl)
        keys += [stream, flag]
        args += [int(max_length), int(flag_ttl_ms)]
        for name, value in fields.items():
            args += [name, value]
        reply = self._scripts.run(_GUARD_THEN_ADD, keys, args)
        return self._decision(reply), len(reply) > 1 and int(reply[1]) == 1

    def guard_press(self, limits: list[tuple[str, int, float]], seen_key: str | None, seen_ttl: float, *,
                    order_key: str, presses_key: str, serial: str, pressed_at: str) -> tuple[RateDecision | str,
                                                                                              str | None]:
        """As ``guard``, and, when the press passes, the order in flight mirrored at ``order_key`` (None when
        none is), noting ``pressed_at`` for ``serial`` in ``presses_key`` when there is one, in the same round
        trip. Redis unreachable: allowed, with no mirrored order (the database answers)."""
        keys, args = self._guard_keys(limits, seen_key, seen_ttl)
        keys += [order_key, presses_key]
        args += [serial, pressed_at]
        try:
            reply = self._scripts.run(_GUARD_PRESS, keys, args)
        except UNAVAILABLE as exc:
            log.warning("Redis unreachable, request guards %r not enforced: %s", keys, exc)
            return RateDecision(True, 0, 0.0), None
        return self._decision(reply), (_text(reply[1]) if len(reply) > 1 else None)

    def guard(self, limits: list[tuple[str, int, float]], seen_key: str | None = None,
              seen_ttl: float = 0) -> RateDecision | str:
        """One round trip for what a request checks in Redis before it acts: each of ``limits``
        (key, limit, per_seconds) in order, as ``hit`` would (the first refusal is returned; later limits are
        not counted), then that ``seen_key`` is new (else ``REPLAYED``; it is marked seen for ``seen_ttl``
        seconds). Redis unreachable: allowed, as ``hit`` (the database still guards orders)."""
        keys, args = self._guard_keys(limits, seen_key, seen_ttl)
        try:
            reply = self._scripts.run(_GUARD, keys, args)
        except UNAVAILABLE as exc:
            log.warning("Redis unreachable, request guards %r not enforced: %s", keys, exc)
            return RateDecision(True, 0, 0.0)
        return self._decision(reply)

    def hit(self, key: str, limit: int, per_seconds: float) -> RateDecision:
        """Count one hit against ``key``: at most ``limit`` hits per ``per_seconds``."""
        if limit < 1 or per_seconds <= 0:
            raise ValueError("rate limit needs limit >= 1 and per_seconds > 0")
        period_us = int(per_seconds * 1_000_000)
        try:
            allowed, remaining, wait_us = self._gcra(keys=[self.prefix + key], args=[int(limit), period_us])
        except UNAVAILABLE as exc:
            log.warning("Redis unreachable, rate limit %r not enforced: %s", key, exc)
            return RateDecision(True, limit, 0.0)
        return RateDecision(bool(int(allowed)), int(remaining), int(_text(wait_us)) / 1_000_000)
