"""The guard's parked Redis connections against a real Redis: a connection the server dropped, or scripts it
forgot, cost no request its answer."""
from __future__ import annotations

import pytest

from replenish.adapters.redis_store import ParkedScripts, RateLimiter

pytestmark = pytest.mark.integration


def test_a_parked_connection_the_server_dropped_is_replaced_once(redis_url):
    import redis
    client = redis.Redis.from_url(redis_url)
    limiter = RateLimiter(client)
    assert limiter.guard([("k", 100, 60)], "seen:a", 60).allowed
    assert len(limiter._scripts._idle) == 1
    killed = {c["id"] for c in client.client_list() if c.get("cmd") == "evalsha"}
    assert killed, "the guard's connection is known to the server"
    for cid in killed:
        client.client_kill_filter(_id=cid)
    # the next guard meets the dropped connection, replaces it, and still counts and refuses replays
    assert limiter.guard([("k", 100, 60)], "seen:b", 60).allowed
    assert limiter.guard([("k", 100, 60)], "seen:b", 60) == "replayed"
    now = {c["id"] for c in client.client_list() if c.get("cmd") == "evalsha"}
    assert now and not now & killed


def test_scripts_flushed_on_the_server_are_loaded_again(redis_url):
    import redis
    client = redis.Redis.from_url(redis_url)
    scripts = ParkedScripts(client)
    assert scripts.run("return 7", [], []) == 7
    client.script_flush()
    assert scripts.run("return 7", [], []) == 7
