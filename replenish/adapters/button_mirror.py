"""What Redis keeps for button presses, so that a press while an order is in flight (the common repeat press:
nothing happened yet, press again) is answered from Redis alone, in the round trip that already checks its
signature replay and rate limit.

- ``button-order:<serial>``: the id of the order in flight for the button, a mirror of the database's one-order-
  in-flight state. Set by a press that found or placed that order, removed by the commit of any unit of work
  that ends a button's order (cancelled, delivered, failed), and kept ``ttl`` seconds at most, so that a
  removal Redis missed (it was unreachable just then) is stale for no longer than that. The database stays the
  source of truth: a press with no mirrored order goes to it, and only a plain press (a single click with no
  battery reading) is answered from the mirror.
- ``button-presses``: the time of each button's latest press answered from the mirror, written to the
  database (``buttons.last_press_at``, the later time wins) by the periodic flush. The column lags by up to
  the flush interval; the API and the dashboard show the later of the two. Should Redis lose the hash before a
  flush, those presses' times are lost (the orders they did not place are not).
"""
from __future__ import annotations

import logging
from datetime import datetime

from .redis_store import _text

log = logging.getLogger(__name__)

ORDER_KEY = "button-order:{serial}"
PRESSES = "button-presses"
TTL_MS = 10_000

# The press times noted so far, and the hash emptied, atomically (a press noted meanwhile goes to the next flush).
_TAKE = """
local taken = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
return taken
"""


class ButtonMirror:
    def __init__(self, redis, ttl_ms: int = TTL_MS):
        self.redis = redis
        self.ttl_ms = ttl_ms
        self._take = redis.register_script(_TAKE)

    @staticmethod
    def order_key(serial: str) -> str:
        return ORDER_KEY.format(serial=serial)

    def remember(self, serial: str, order_id: str) -> None:
        """The button's order in flight (best effort: without it the database answers)."""
        try:
            self.redis.set(self.order_key(serial), order_id, px=self.ttl_ms)
        except Exception as exc:
            log.warning("could not mirror the order in flight for button %s: %s", serial, exc)

    def forget(self, serials) -> None:
        """The buttons' orders ended (best effort: the mirror expires by itself within its TTL)."""
        keys = [self.order_key(serial) for serial in set(serials)]
        if not keys:
            return
        try:
            self.redis.delete(*keys)
        except Exception as exc:
            log.warning("could not clear the mirrored orders of buttons %s (they expire in %s ms): %s",
                        sorted(serials), self.ttl_ms, exc)

    def take_presses(self) -> dict[str, datetime]:
        """The latest press time noted for each button since the last call (and forgets them)."""
        flat = self._take(keys=[PRESSES])
        return {_text(flat[i]): datetime.fromisoformat(_text(flat[i + 1])) for i in range(0, len(flat), 2)}

    def noted(self, serials: list[str]) -> dict[str, datetime]:
        """Press times noted for these buttons and not yet flushed (empty when Redis does not answer)."""
        try:
            values = self.redis.hmget(PRESSES, serials)
        except Exception as exc:
            log.warning("could not read noted press times: %s", exc)
            return {}
        return {serial: datetime.fromisoformat(_text(value)) for serial, value in zip(serials, values) if value}

    def put_back(self, presses: dict[str, datetime]) -> None:
        """Press times a flush could not write, for the next one (a later press noted meanwhile wins)."""
        for serial, at in presses.items():
            self.redis.hsetnx(PRESSES, serial, at.isoformat())
