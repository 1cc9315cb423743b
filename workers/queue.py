"""The TaskQueue port on Celery: how the services layer asks for work to be done later."""
from __future__ import annotations

import contextlib
from datetime import UTC, datetime


class CeleryQueue:
    """Sends by task name, so any configured Celery app (the process's own, or a test's) can carry the work.

    Committed events are not sent one task each: a ``drain_outbox`` task takes whatever is unhandled in
    batches. With ``redis`` given, requests for a drain are coalesced: while one is queued and not yet started,
    nothing more is sent (a flag with a short expiry, so a lost message cannot silence the queue for long; the
    outbox relay covers the rest). Without Redis, or when Redis does not answer, every request sends a drain.
    """

    FLAG_TTL_MS = 5000

    def __init__(self, app=None, clock=lambda: datetime.now(UTC), redis=None):
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
            with contextlib.suppress(Exception):
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

    def send(self, task_name: str, *args) -> None:
        """For other parts of the product (webhook deliveries) that add their own tasks."""
        self.app.send_task(task_name, args=list(args))


class _EventByEvent:
    """For queues without batch draining: committed events are handled (or recorded) one by one."""

    def handle_events(self, event_ids: list[int]) -> None:
        for event_id in event_ids:
            self.handle_event(event_id)

    def drain_started(self) -> None:
        pass


class InlineQueue(_EventByEvent):
    """Runs the work at once in the caller's thread (unit tests, scripts). Not for servers."""

    def __init__(self, bus_provider):
        self.bus_provider = bus_provider
        self.submitted: list[str] = []

    def handle_event(self, event_id: int) -> None:
        self.bus_provider().handle_event(event_id)

    def submit_order(self, order_id: str, eta=None) -> None:
        from replenish.domain import commands
        self.submitted.append(order_id)
        self.bus_provider().handle(commands.SubmitOrder(order_id))

    def track_order(self, order_id: str, countdown: float = 0) -> None:
        pass  # tracking is driven explicitly in tests

    def send(self, task_name: str, *args) -> None:
        pass


class RecordingQueue(_EventByEvent):
    """Remembers what was asked for; tests run it by hand."""

    def __init__(self):
        self.events: list[int] = []
        self.submissions: list[tuple[str, object]] = []
        self.tracking: list[str] = []
        self.sent: list[tuple] = []

    def handle_event(self, event_id: int) -> None:
        self.events.append(event_id)

    def submit_order(self, order_id: str, eta=None) -> None:
        self.submissions.append((order_id, eta))

    def track_order(self, order_id: str, countdown: float = 0) -> None:
        self.tracking.append(order_id)

    def send(self, task_name: str, *args) -> None:
        self.sent.append((task_name, args))
