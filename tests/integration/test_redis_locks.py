"""``RedisLocks`` (redis-py's ``Lock``) on a real Redis: one holder at a time across threads and connections, the
lock's own expiry, a waiter that gives up, and a member's order refused, not placed unguarded, when Redis cannot be
reached."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from replenish.adapters.redis_store import LockTimeout, LockUnavailable, RedisLocks
from replenish.bootstrap import bootstrap
from replenish.config import Settings
from replenish.domain import commands
from replenish.members.model import AddMember
from tests.conftest import PRODUCTS
from tests.doubles import RecordingQueue

pytestmark = pytest.mark.integration

UNREACHABLE = "redis://127.0.0.1:1/0"  # nothing listens there


def test_one_holder_at_a_time_across_connections(redis_url):
    inside, most, total = 0, 0, 0
    guard = threading.Lock()
    start = threading.Barrier(6)

    def work(_):
        nonlocal inside, most, total
        locks = RedisLocks(redis.Redis.from_url(redis_url))  # a connection of its own, as another process has
        start.wait()
        for _ in range(5):
            with locks.hold("it:spend", timeout=5, wait=10) as handle:
                assert handle.held
                with guard:
                    inside += 1
                    most = max(most, inside)
                seen = total
                total = seen + 1  # a lost update would show if two were in here
                with guard:
                    inside -= 1

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(work, range(6)))
    assert (most, total) == (1, 30)


def test_the_lock_expires_and_a_waiter_gives_up(redis_url):
    client = redis.Redis.from_url(redis_url)
    locks = RedisLocks(client)
    with locks.hold("it:busy", timeout=7) as handle:
        assert 6000 < client.pttl("lock:it:busy") <= 7000
        assert client.get("lock:it:busy").decode() == handle.token
        with pytest.raises(LockTimeout), locks.hold("it:busy", wait=0.2):
            pytest.fail("two holders")
    assert client.get("lock:it:busy") is None


def test_redis_unreachable_refuses_the_lock():
    locks = RedisLocks(redis.Redis.from_url(UNREACHABLE, socket_connect_timeout=0.5, socket_timeout=0.5))
    with pytest.raises(LockUnavailable), locks.hold("it:down"):
        pytest.fail("ran without its lock")


@pytest.fixture
def container(pg, redis_url, service_env):
    made = bootstrap(Settings.from_env(service_env(DATABASE_URL=pg, REDIS_URL=redis_url, BROKER_URL="memory://")),
                     queue=RecordingQueue())
    with made.uow() as uow:
        uow.products.upsert_many(PRODUCTS)
        uow.session.commit()
    made.bus.handle(commands.CreateHousehold("fam", "Family", time_zone="America/Los_Angeles"))
    yield made
    made.engine.dispose()


def test_a_members_order_is_refused_not_placed_unguarded_when_redis_is_down(container):
    alex = container.bus.handle(AddMember("fam", "Alex", "adult", per_month_cap_cents=3000))
    container.deps.locks = RedisLocks(redis.Redis.from_url(UNREACHABLE, socket_connect_timeout=0.5,
                                                           socket_timeout=0.5))
    with pytest.raises(LockUnavailable):
        container.bus.handle(commands.PlaceOrder("fam", "web", (commands.LineRequest("TIDE-PODS-42", 1),),
                                                 speaker=alex["id"]))
    with container.uow() as uow:
        assert uow.orders.list("fam") == []
