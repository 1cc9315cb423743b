"""Queues for tests and benchmarks (the TaskQueue port without a broker): ``InlineQueue`` runs the work at once
in the caller's thread; ``RecordingQueue`` remembers what was asked for, and the test runs it by hand."""
from __future__ import annotations


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
