"""The recommender as one voice turn sees it: the household's history is read once, not once per question.

``container.recommendations`` answers each call (resolve, quantity, buy_again, running_low) by reading the
household's whole purchase history again; an "order detergent" turn asks two of them, and a conversation
("no", "something else") asks again on every turn. Reading three years of history is most of a turn's time,
so when the service exposes its ``history(household_id)`` and ``model`` (the project's does), this reads the
history once and keeps it for a short while (``HISTORY_TTL``; the conversation's next turns), and asks the
model directly. A service without them (a test fake) is used through its contract unchanged.

History only grows when an order is delivered or history is imported, so a few seconds of staleness cannot
change what is bought: the household still hears the product and price and says yes.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

from cachetools import TTLCache

HISTORY_TTL = 30.0  # seconds: about one conversation
_MAX_HOUSEHOLDS = 1024


class HistoryCache:
    """Histories by (service, household), each kept ``ttl`` seconds of ``timer`` (the least recently used go first
    beyond ``maxsize``); safe to share between threads."""

    def __init__(self, ttl: float = HISTORY_TTL, maxsize: int = _MAX_HOUSEHOLDS,
                 timer: Callable[[], float] = time.monotonic):
        self._items: TTLCache = TTLCache(maxsize=maxsize, ttl=ttl, timer=timer)
        self._lock = threading.Lock()

    def get(self, service, household_id: str) -> list | None:
        with self._lock:
            return self._items.get((id(service), household_id))

    def put(self, service, household_id: str, history: list) -> None:
        with self._lock:
            self._items[(id(service), household_id)] = history

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


HISTORIES = HistoryCache()


class TurnRecommendations:
    """The recommender contract (resolve, quantity, buy_again, running_low) for one household and turn."""

    def __init__(self, service, household_id: str, cache: HistoryCache | None = HISTORIES):
        self.service = service
        self.household_id = household_id
        self.cache = cache  # None: read the history on every turn
        self._direct = callable(getattr(service, "history", None)) and hasattr(service, "model") \
            and callable(getattr(service, "clock", None))
        self._history: list | None = None

    def history(self) -> list:
        if self._history is None:
            cached = self.cache.get(self.service, self.household_id) if self.cache is not None else None
            if cached is None:
                cached = list(self.service.history(self.household_id))
                if self.cache is not None:
                    self.cache.put(self.service, self.household_id, cached)
            self._history = cached
        return self._history

    def resolve(self, phrase: str, k: int = 3):
        if self._direct:
            return self.service.model.resolve(phrase, self.history(), k=k, now=self.service.clock())
        return self.service.resolve(self.household_id, phrase, k=k)

    def quantity(self, sku: str) -> int:
        if self._direct:
            return self.service.model.quantity(self.history(), sku)
        return self.service.quantity(self.household_id, sku)

    def buy_again(self, k: int = 10):
        if self._direct:
            return self.service.model.buy_again(self.history(), k=k, now=self.service.clock())
        return self.service.buy_again(self.household_id, k)

    def running_low(self):
        if self._direct:
            return self.service.model.running_low(self.history(), now=self.service.clock())
        return self.service.running_low(self.household_id)
