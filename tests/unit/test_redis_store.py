"""Redis locks, idempotency records and rate limits, on fakeredis (with Lua)."""
from __future__ import annotations

import contextlib
import logging
import threading
import time

import fakeredis
import pytest

from replenish.adapters.redis_store import (
    IdempotencyStore,
    LockTimeout,
    LockUnavailable,
    NullLocks,
    RateLimiter,
    RedisLocks,
    fingerprint,
)


@pytest.fixture
def server():
    return fakeredis.FakeServer()


@pytest.fixture
def client(server):
    return fakeredis.FakeRedis(server=server)


# --- locks -----------------------------------------------------------------------------------


def test_lock_excludes_other_threads(server):
    locks = RedisLocks(fakeredis.FakeRedis(server=server))
    inside = 0
    most_inside = 0
    total = 0
    guard = threading.Lock()

    def work():
        nonlocal inside, most_inside, total
        for _ in range(5):
            with locks.hold("household:1", timeout=5, wait=10) as handle:
                assert handle.held
                with guard:
                    inside += 1
                    most_inside = max(most_inside, inside)
                seen = total
                time.sleep(0.002)  # a lost update would show if two threads were in here
                total = seen + 1
                with guard:
                    inside -= 1

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert most_inside == 1
    assert total == 30


def test_lock_is_released_after_the_block_even_on_error(client):
    locks = RedisLocks(client)
    with pytest.raises(RuntimeError), locks.hold("a"):
        assert client.get("lock:a") is not None
        raise RuntimeError("boom")
    assert client.get("lock:a") is None
    with locks.hold("a", wait=0) as handle:
        assert handle.held


def test_lock_expires_with_its_timeout(client):
    locks = RedisLocks(client)
    with locks.hold("ttl", timeout=7):
        assert 6000 < client.pttl("lock:ttl") <= 7000


def test_expired_holder_does_not_release_the_next_holders_lock(client, caplog):
    locks = RedisLocks(client)
    with contextlib.ExitStack() as stack:
        first = locks.hold("x", timeout=0.05)
        stack.enter_context(first)
        time.sleep(0.1)  # first's lock expires while it is still "working"
        with locks.hold("x", timeout=5, wait=0) as second:
            with caplog.at_level(logging.WARNING):
                first.__exit__(None, None, None)  # first finishes late
            stack.pop_all()
            assert client.get("lock:x").decode() == second.token
            assert "expired before its holder finished" in caplog.text
    assert client.get("lock:x") is None


class FakeTime:
    """The time redis-py's lock waits by: sleeping moves it on at once."""

    def __init__(self):
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_lock_timeout_after_waiting_the_whole_wait(client, monkeypatch):
    import redis.lock
    locks = RedisLocks(client)
    with locks.hold("busy", timeout=5):
        waited = FakeTime()
        monkeypatch.setattr(redis.lock, "mod_time", waited)
        with pytest.raises(LockTimeout, match="still held by another worker after 2.0s"), locks.hold("busy", wait=2):
            pytest.fail("acquired a held lock")
        assert waited.now - 1000.0 >= 2.0  # it kept trying until the wait was over, no longer than a poll more
        assert waited.now - 1000.0 <= 2.0 + 2 * locks.poll and set(waited.slept) == {locks.poll}
        waited.slept.clear()
        with pytest.raises(LockTimeout), locks.hold("busy", wait=0):
            pytest.fail("acquired a held lock")
        assert waited.slept == []  # no wait: one try


def test_lock_timeout_is_transient():
    from replenish.services.ports import TransientError

    assert issubclass(LockTimeout, TransientError)


def test_waiter_gets_the_lock_when_it_frees(client):
    locks = RedisLocks(client)
    got = []
    with locks.hold("q", timeout=5):
        waiter = threading.Thread(target=lambda: got.append(locks.hold("q", wait=2).__enter__().held))
        waiter.start()
        time.sleep(0.05)
    waiter.join(3)
    assert got == [True]


def test_a_lock_that_cannot_be_taken_is_refused_when_redis_is_down(server, client, caplog):
    # What a lock guards (a member's own caps) has no database rule behind it: skipping the lock could let two
    # orders pass one cap. So nothing runs, and the refusal is transient (a 503, a worker's retry).
    from replenish.services.ports import TransientError
    server.connected = False
    ran = []
    with caplog.at_level(logging.WARNING), pytest.raises(LockUnavailable) as refused, RedisLocks(client).hold("h"):
        ran.append(True)
    assert ran == [] and isinstance(refused.value, TransientError)
    assert "not taken" in caplog.text


def test_redis_dying_while_held_does_not_fail_the_block(server, client, caplog):
    with caplog.at_level(logging.WARNING), RedisLocks(client).hold("h") as handle:
        assert handle.held
        server.connected = False
    assert "will expire on its own" in caplog.text


def test_null_locks_are_no_ops():
    with NullLocks().hold("anything", timeout=1) as handle:
        assert not handle.held


# --- idempotency -----------------------------------------------------------------------------

FP = fingerprint("POST", "/orders", b'{"sku":"D1"}')


def test_fingerprint_covers_method_path_and_body():
    assert fingerprint("post", "/orders", b'{"sku":"D1"}') == FP
    assert fingerprint("PUT", "/orders", b'{"sku":"D1"}') != FP
    assert fingerprint("POST", "/orders/1", b'{"sku":"D1"}') != FP
    assert fingerprint("POST", "/orders", b'{"sku":"D2"}') != FP
    assert fingerprint("POST", "/a", b"b/c") != fingerprint("POST", "/ab", b"/c")


def test_new_then_in_progress_then_replay(client):
    store = IdempotencyStore(client)
    first = store.begin("orders", "k1", FP)
    assert first.is_new and not first.degraded
    assert store.begin("orders", "k1", FP).is_in_progress

    body = b'{"order_id":"o-1"}\x00\xff'  # arbitrary bytes survive
    assert store.save("orders", "k1", FP, 201, body, {"Content-Type": "application/json", "Location": "/o/1"})
    replay = store.begin("orders", "k1", FP)
    assert replay.is_replay
    assert replay.status == 201
    assert replay.body == body
    assert replay.headers == {"Content-Type": "application/json", "Location": "/o/1"}


def test_same_key_different_request_is_a_conflict(client):
    store = IdempotencyStore(client)
    other = fingerprint("POST", "/orders", b'{"sku":"OTHER"}')
    store.begin("orders", "k2", FP)
    assert store.begin("orders", "k2", other).is_conflict
    store.save("orders", "k2", FP, 200, b"ok", {})
    assert store.begin("orders", "k2", other).is_conflict
    assert not store.save("orders", "k2", other, 200, b"hijack", {})
    assert store.begin("orders", "k2", FP).body == b"ok"


def test_scopes_are_separate(client):
    store = IdempotencyStore(client)
    assert store.begin("orders", "k", FP).is_new
    assert store.begin("buttons", "k", FP).is_new


def test_release_lets_a_retry_start_over_but_keeps_saved_responses(client):
    store = IdempotencyStore(client)
    store.begin("orders", "k3", FP)
    store.release("orders", "k3")
    assert store.begin("orders", "k3", FP).is_new
    store.save("orders", "k3", FP, 200, b"done", {})
    store.release("orders", "k3")
    assert store.begin("orders", "k3", FP).is_replay


def test_saved_responses_and_in_progress_marks_expire(client):
    store = IdempotencyStore(client, ttl_seconds=0.3, in_progress_ttl=0.1)
    store.begin("orders", "k4", FP)
    assert client.pttl("idem:orders:k4") <= 100
    time.sleep(0.15)
    assert store.begin("orders", "k4", FP).is_new  # a crashed worker does not block the key
    store.save("orders", "k4", FP, 200, b"done", {})
    assert 200 < client.pttl("idem:orders:k4") <= 300
    assert store.begin("orders", "k4", FP).is_replay
    time.sleep(0.35)
    assert store.begin("orders", "k4", FP).is_new


def test_default_ttl_is_a_day(client):
    store = IdempotencyStore(client)
    store.begin("orders", "k5", FP)
    store.save("orders", "k5", FP, 200, b"", {})
    assert 86_390_000 < client.pttl("idem:orders:k5") <= 86_400_000


def test_works_with_decoded_responses(server):
    store = IdempotencyStore(fakeredis.FakeRedis(server=server, decode_responses=True))
    store.begin("orders", "k6", FP)
    store.save("orders", "k6", FP, 202, b"\xffbinary", {"X": "1"})
    replay = store.begin("orders", "k6", FP)
    assert (replay.status, replay.body, replay.headers) == (202, b"\xffbinary", {"X": "1"})


def test_bad_keys_are_rejected(client):
    store = IdempotencyStore(client)
    with pytest.raises(ValueError):
        store.begin("orders", "", FP)
    with pytest.raises(ValueError):
        store.begin("orders", "k" * 256, FP)


def test_idempotency_degrades_when_redis_is_down(server, client):
    store = IdempotencyStore(client)
    server.connected = False
    begin = store.begin("orders", "k7", FP)
    assert begin.is_new and begin.degraded
    assert store.save("orders", "k7", FP, 200, b"", {}) is False
    store.release("orders", "k7")  # no exception


# --- rate limits -----------------------------------------------------------------------------


def test_allows_limit_then_refuses_with_retry_after(client):
    limiter = RateLimiter(client)
    # A long window, so a slow machine between two hits cannot refill a token and flake the test.
    decisions = [limiter.hit("button:1", limit=3, per_seconds=60) for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, True]
    assert [d.remaining for d in decisions] == [2, 1, 0]
    assert all(d.retry_after == 0 for d in decisions)
    refused = limiter.hit("button:1", limit=3, per_seconds=60)
    assert not refused.allowed and refused.remaining == 0
    assert 15 < refused.retry_after <= 20.001
    assert limiter.hit("button:2", limit=3, per_seconds=60).allowed  # keys are counted apart


def test_refused_hits_do_not_extend_the_wait(client):
    limiter = RateLimiter(client)
    limiter.hit("k", limit=1, per_seconds=60)  # a long window: a slow machine cannot see it end between the hits
    first = limiter.hit("k", limit=1, per_seconds=60)
    second = limiter.hit("k", limit=1, per_seconds=60)
    assert not first.allowed and not second.allowed
    assert second.retry_after <= first.retry_after


def test_window_resets_after_quiet_period(client):
    limiter = RateLimiter(client)
    for _ in range(5):
        limiter.hit("voice:hh", limit=5, per_seconds=0.3)
    assert not limiter.hit("voice:hh", limit=5, per_seconds=0.3).allowed
    time.sleep(0.35)
    fresh = limiter.hit("voice:hh", limit=5, per_seconds=0.3)
    assert fresh.allowed and fresh.remaining == 4
    assert client.pttl("rl:voice:hh") <= 300  # keys do not outlive their window


def test_keys_are_independent(client):
    limiter = RateLimiter(client)
    assert limiter.hit("a", limit=1, per_seconds=10).allowed
    assert not limiter.hit("a", limit=1, per_seconds=10).allowed
    assert limiter.hit("b", limit=1, per_seconds=10).allowed


def test_rate_limiter_is_atomic_across_threads(server):
    limiter = RateLimiter(fakeredis.FakeRedis(server=server))
    results = []

    def burst():
        for _ in range(10):
            results.append(limiter.hit("shared", limit=25, per_seconds=60).allowed)

    threads = [threading.Thread(target=burst) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results.count(True) == 25


def test_rate_limiter_fails_open_when_redis_is_down(server, client, caplog):
    server.connected = False
    with caplog.at_level(logging.WARNING):
        decision = RateLimiter(client).hit("x", limit=1, per_seconds=1)
    assert decision.allowed and decision.remaining == 1
    assert "not enforced" in caplog.text


class TimingOutClient:
    """A client whose every command times out (redis.TimeoutError, not ConnectionError)."""

    def lock(self, name, **kwargs):
        import redis

        return redis.lock.Lock(self, name, **kwargs)

    def get_encoder(self):
        import redis

        return redis.Redis().get_encoder()

    def register_script(self, script):
        def run(keys=(), args=()):
            import redis

            raise redis.exceptions.TimeoutError("Timeout reading from socket")

        return run

    def set(self, *a, **kw):
        import redis

        raise redis.exceptions.TimeoutError("Timeout reading from socket")


def test_timeouts_are_redis_being_down_too():
    client = TimingOutClient()
    with pytest.raises(LockUnavailable), RedisLocks(client).hold("t"):
        pytest.fail("ran without its lock")
    assert RateLimiter(client).hit("t", 1, 1).allowed
    assert IdempotencyStore(client).begin("s", "k", FP).degraded


def test_invalid_limits_are_rejected(client):
    with pytest.raises(ValueError):
        RateLimiter(client).hit("x", limit=0, per_seconds=1)
    with pytest.raises(ValueError):
        RateLimiter(client).hit("x", limit=1, per_seconds=0)


# --- several limits in one round trip ---------------------------------------------------------


def test_check_counts_limits_in_order_and_stops_at_the_first_refusal(client):
    limiter = RateLimiter(client)
    assert limiter.check([("partner", 10, 60), ("device", 1, 60)]).allowed
    refused = limiter.check([("partner", 10, 60), ("device", 1, 60)])
    assert not refused.allowed and refused.retry_after > 0
    # the partner's budget was counted twice (the refusal by the device's limit came after it), no more
    for _ in range(8):
        assert limiter.check([("partner", 10, 60)]).allowed
    assert not limiter.check([("partner", 10, 60)]).allowed


def test_check_works_on_after_redis_forgets_its_scripts(client):
    limiter = RateLimiter(client)
    assert limiter.check([("k", 2, 60)]).allowed
    client.script_flush()
    assert limiter.check([("k", 2, 60)]).allowed
    assert not limiter.check([("k", 2, 60)]).allowed


def test_rate_limits_allow_with_redis_down_and_say_so_once_a_minute(server, client, caplog):
    now = [1000.0]
    limiter = RateLimiter(client, clock=lambda: now[0])
    server.connected = False
    with caplog.at_level(logging.WARNING):
        for _ in range(5):
            assert limiter.check([("k", 1, 60)]).allowed
        now[0] += 61
        assert limiter.check([("k", 1, 60)]).allowed
    assert caplog.text.count("not enforced") == 2
