"""When an order the store did not answer is tried again, and when it is given up.

One retry layer for submissions: a try that meets a transient failure (refused for now, timed out, the reply
lost) puts the order back as pending with a later due time (``Order.retry_submission``); the due-orders sweep
tries it again then. Nothing sleeps in a worker. The store deduplicates by the order's id (its idempotency
key), so a try whose reply was lost and the next try make one booking.
"""
from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from replenish.config import Settings


@dataclass(frozen=True)
class SubmitBackoff:
    base: float = 1.0  # seconds before the second try
    cap: float = 300.0  # the longest wait between two tries
    give_up_after: float = 2 * 3600.0  # the tries' nominal waits add up to this: then the order fails

    @classmethod
    def from_settings(cls, settings: Settings) -> SubmitBackoff:
        return cls(settings.submit_retry_base, settings.submit_retry_cap, settings.submit_give_up)

    def nominal(self, attempts: int) -> float:
        """The wait after ``attempts`` tries without an answer (1, 2, ...): base * 2**(attempts - 1), capped."""
        if attempts < 1:
            return 0.0
        return min(self.cap, self.base * 2.0 ** min(attempts - 1, 60))

    def delay(self, attempts: int, rng: Callable[[], float] = random.random) -> timedelta:
        """The wait with jitter: from half of the nominal wait to all of it ("equal jitter"), so that orders
        that failed together do not come back together, and none comes back sooner than half its wait."""
        nominal = self.nominal(attempts)
        return timedelta(seconds=nominal / 2 + rng() * nominal / 2)

    @property
    def max_attempts(self) -> int:
        """Tries after which the order fails: the fewest whose nominal waits add up to ``give_up_after``."""
        total, n = 0.0, 0
        while total < self.give_up_after and self.nominal(n + 1) < self.cap:
            n += 1
            total += self.nominal(n)
        if total < self.give_up_after:
            n += math.ceil((self.give_up_after - total) / self.cap)
        return max(1, n)

    def gives_up(self, attempts: int) -> bool:
        return attempts >= self.max_attempts
