"""The TaskQueue port on Celery: how the services layer asks for work to be done later."""
from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from redis import Redis


class CeleryQueue:
    """Sends by task name, so any configured Celery app (the process's own, or a test's) can carry the work.

    Committed events are not sent one task each: a ``drain_outbox`` task takes whatever is unhandled in
    batches. With ``redis`` given, requests for a drain are coalesced: while one is queued and not yet started,
    nothing more is sent (a flag with a short expiry, so a lost message cannot silence the queue for long; the
    outbox relay covers the rest). Without Redis, or when Redis does not answer, every request sends a drain.
    """

    FLAG_TTL_MS = 5000

    def __init__(self, app: Any = None, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 redis: Redis | None = None):
        """``app``: a Celery app (Celery ships no types), the process's own by default."""
        if app is None:
            from .celery_app import app
        self.app = app
        self.clock = clock
        self.redis = redis

    @property
    def _flag(self) -> str:
        return f"replenish:drain-pending:{self.app.conf.task_default_queue}"

    def handle_event(self, event_id: int) -> None:
        self.app.send_task("workers.tasks.handle_event", args=[event_id])

    def handle_events(self, event_ids: list[int]) -> None:
        # The events were committed before this runs, and a drain lowers the flag before it claims: so either
        # the flag is down and a drain is sent, or a drain that has not started yet will see these events.
        if self.redis is not None:
            try:
                if not self.redis.set(self._flag, 1, nx=True, px=self.FLAG_TTL_MS):
                    return
            except Exception:  # no Redis: send anyway (a duplicate drain finds nothing to do)
                pass
        self.app.send_task("workers.tasks.drain_outbox")

    def drain_started(self) -> None:
        if self.redis is not None:
            with contextlib.suppress(Exception):  # no Redis: the flag expires on its own
                self.redis.delete(self._flag)

    # No ETA or countdown messages: a worker holding them when a Redis broker drops its connection dies
    # (kombu acks them on the dead channel), and they sit invisible for the visibility timeout. Work that is
    # not due yet is left to the periodic sweeps (submit-due-orders, track-in-transit), which read the database.
    def submit_order(self, order_id: str, eta: datetime | None = None) -> None:
        if eta is not None and eta > self.clock():
            return
        self.app.send_task("workers.tasks.submit_order", args=[order_id])

    def track_order(self, order_id: str, countdown: float = 0) -> None:
        if countdown:
            return
        self.app.send_task("workers.tasks.track_order", args=[order_id])

    def send(self, task_name: str, *args: object) -> None:
        """For other parts of the product (webhook deliveries) that add their own tasks."""
        self.app.send_task(task_name, args=list(args))
