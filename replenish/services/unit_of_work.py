"""The unit of work: one transaction; rolls back unless committed; writes events to the outbox on commit."""
from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from replenish.adapters import repository
from replenish.domain.model import utcnow

log = logging.getLogger(__name__)


class SqlAlchemyUnitOfWork:
    def __init__(self, session_factory: sessionmaker, after_commit: Callable[[list[int]], None] | None = None,
                 clock: Callable = utcnow, needs_handling: Callable[[str], bool] = lambda name: True,
                 committed: Callable[[list], None] | None = None,
                 repositories: dict[str, Callable[[Session], object]] | None = None):
        self.session_factory = session_factory
        self.after_commit = after_commit
        self.committed = committed  # given every event a commit made, once it is committed (caches to update)
        self.repositories = repositories or {}  # other features' repositories by name (bootstrap gives them)
        self.clock = clock
        self.needs_handling = needs_handling
        self._on_commit: list[Callable[[], None]] = []
        self.session: Session | None = None

    def __enter__(self) -> SqlAlchemyUnitOfWork:
        self.session = self.session_factory()
        self.orders = repository.OrderRepository(self.session)
        self.households = repository.HouseholdRepository(self.session)
        self.products = repository.ProductRepository(self.session)
        self.purchases = repository.PurchaseRepository(self.session)
        self.outbox = repository.OutboxRepository(self.session)
        self.notifications = repository.NotificationRepository(self.session)
        for name, make in self.repositories.items():
            setattr(self, name, make(self.session))
        self.extra_seen: set = set()  # other aggregates that record events (devices, buttons)
        self.context: dict = {}  # scratch space for consumers sharing this transaction (batched follow-ups)
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            self.rollback()
        finally:
            self.session.close()

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Runs ``callback`` once this unit of work has committed (never if it rolls back)."""
        self._on_commit.append(callback)

    def track(self, aggregate) -> None:
        """Registers an aggregate whose ``events`` must reach the outbox on commit."""
        self.extra_seen.add(aggregate)

    def _write_events(self) -> list[int]:
        """Writes every new event to the outbox; returns the ids of those some consumer must handle.
        Events nobody consumes are recorded (they are the order's timeline) as already handled."""
        rows, consumed = [], []
        self._events = []
        now = self.clock()
        for aggregate in list(self.orders.seen) + list(self.extra_seen):
            pending = getattr(aggregate, "events", None) or []
            while pending:
                event = pending.pop(0)
                self._events.append(event)
                aggregate_id = getattr(event, "order_id", None) or getattr(aggregate, "id", None)
                needed = self.needs_handling(event.name)
                rows.append(self.outbox.row(event, aggregate_id, getattr(event, "household_id", None), now,
                                            handled=not needed))
                consumed.append(needed)
        ids = self.outbox.add_many(rows)  # one statement, however many events a batch of work made
        return [event_id for event_id, needed in zip(ids, consumed, strict=True) if needed]

    def commit(self) -> None:
        """Commits state and its events together; only then hands the new events to the dispatcher."""
        self.session.flush()  # aggregates flushed first, so their rows exist before the events that name them
        event_ids = self._write_events()
        self.session.commit()
        if event_ids and self.after_commit is not None:
            try:
                self.after_commit(event_ids)
            except Exception:  # the outbox keeps them; the periodic relay sends them later
                log.exception("could not dispatch events after commit; the outbox relay will send them")
        if self.committed is not None and self._events:
            try:
                self.committed(self._events)
            except Exception:
                log.exception("a cache could not follow a commit")
        callbacks, self._on_commit = self._on_commit, []
        for callback in callbacks:
            callback()

    def rollback(self) -> None:
        if self.session is not None:
            self.session.rollback()
