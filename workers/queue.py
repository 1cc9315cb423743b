"""The TaskQueue port on Celery: how the services layer asks for work to be done later."""
from __future__ import annotations

from datetime import datetime, timezone


class CeleryQueue:
    def __init__(self, clock=lambda: datetime.now(timezone.utc)):
        self.clock = clock

    def handle_event(self, event_id: int) -> None:
        from . import tasks
        tasks.handle_event.apply_async(args=[event_id])

    def submit_order(self, order_id: str, eta: datetime | None = None) -> None:
        from . import tasks
        # ETA is measured on the real clock by the worker; the periodic sweep covers a moved test clock.
        if eta is not None and eta > self.clock():
            delay = (eta - self.clock()).total_seconds()
            tasks.submit_order.apply_async(args=[order_id], countdown=delay)
        else:
            tasks.submit_order.apply_async(args=[order_id])

    def track_order(self, order_id: str, countdown: float = 0) -> None:
        from . import tasks
        tasks.track_order.apply_async(args=[order_id], countdown=countdown or None)


class InlineQueue:
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


class RecordingQueue:
    """Remembers what was asked for; tests run it by hand."""

    def __init__(self):
        self.events: list[int] = []
        self.submissions: list[tuple[str, object]] = []
        self.tracking: list[str] = []

    def handle_event(self, event_id: int) -> None:
        self.events.append(event_id)

    def submit_order(self, order_id: str, eta=None) -> None:
        self.submissions.append((order_id, eta))

    def track_order(self, order_id: str, countdown: float = 0) -> None:
        self.tracking.append(order_id)
