"""The unit of work: one transaction; rolls back unless committed; writes events to the outbox on commit.

After a commit, one mechanism runs what must follow it: post-commit hooks, each given a ``Committed`` record.
The composition root gives the standing ones (hand the new events to the queue, count them for the metrics);
code inside a transaction adds its own with ``on_commit`` (submit these orders, send this webhook). The database's
own conflicts come out as domain errors (``DuplicateEntry``, ``ConcurrentUpdate``), so handlers need no SQL."""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from replenish.adapters import repository
from replenish.domain.errors import ConcurrentUpdate, Conflict, DuplicateEntry
from replenish.domain.events import Event
from replenish.domain.model import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Committed:
    """What a commit wrote: every event (the order timeline's new entries) and the outbox ids of those some
    consumer must handle."""
    events: list[Event] = field(default_factory=list)
    to_handle: list[int] = field(default_factory=list)


PostCommitHook = Callable[[Committed], None]


def as_conflict(exc: BaseException) -> Conflict | None:
    """The domain conflict a database error stands for, if it is one."""
    if isinstance(exc, IntegrityError | StaleDataError):
        return _conflict(exc)
    return None


def _conflict(exc: IntegrityError | StaleDataError) -> Conflict:
    if isinstance(exc, IntegrityError):
        return DuplicateEntry("Someone else saved the same thing at the same moment.")
    return ConcurrentUpdate("Someone else changed this at the same moment.")


class SqlAlchemyUnitOfWork:
    orders: repository.OrderRepository
    households: repository.HouseholdRepository
    products: repository.ProductRepository
    purchases: repository.PurchaseRepository
    outbox: repository.OutboxRepository
    notifications: repository.NotificationRepository
    extra_seen: set[Any]  # other aggregates that record events (devices, buttons)
    context: dict[str, Any]  # scratch space for consumers sharing this transaction (batched follow-ups)

    if TYPE_CHECKING:
        # The feature packages' repositories (``uow.devices``, ``uow.lists``, ...), set by name in ``__enter__``
        # from their wiring's REPOSITORIES: the core does not import the features (decision 0010), so it cannot
        # name their types.
        def __getattr__(self, name: str) -> Any: ...

    def __init__(self, session_factory: sessionmaker[Session], *, hooks: Sequence[PostCommitHook] = (),
                 clock: Callable[[], datetime] = utcnow, needs_handling: Callable[[str], bool] = lambda name: True,
                 repositories: dict[str, Callable[[Session], object]] | None = None):
        self.session_factory = session_factory
        self.hooks = tuple(hooks)  # run after every commit (bootstrap gives them)
        self.repositories = repositories or {}  # other features' repositories by name (bootstrap gives them)
        self.clock = clock
        self.needs_handling = needs_handling
        self._on_commit: list[PostCommitHook] = []
        self._events: list[Event] = []
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        """This unit of work's session: there is one only inside its ``with`` block."""
        if self._session is None:
            raise RuntimeError("the unit of work has no session outside its with block")
        return self._session

    def __enter__(self) -> SqlAlchemyUnitOfWork:
        self._session = session = self.session_factory()
        self.orders = repository.OrderRepository(session)
        self.households = repository.HouseholdRepository(session)
        self.products = repository.ProductRepository(session)
        self.purchases = repository.PurchaseRepository(session)
        self.outbox = repository.OutboxRepository(session)
        self.notifications = repository.NotificationRepository(session)
        for name, make in self.repositories.items():
            setattr(self, name, make(session))
        self.extra_seen = set()
        self.context = {}
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        try:
            self.rollback()
        finally:
            self.session.close()
        conflict = as_conflict(exc) if exc is not None else None
        if conflict is not None:  # a flush inside the block met another transaction's write
            raise conflict from exc

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Runs ``callback`` once this unit of work has committed (never if it rolls back): a post-commit hook
        for this transaction only."""
        self._on_commit.append(lambda committed: callback())

    def track(self, aggregate: object) -> None:
        """Registers an aggregate whose ``events`` must reach the outbox on commit."""
        self.extra_seen.add(aggregate)

    def _write_events(self) -> list[int]:
        """Writes every new event to the outbox; returns the ids of those some consumer must handle.
        Events nobody consumes are recorded (they are the order's timeline) as already handled."""
        rows: list[dict[str, Any]] = []
        consumed: list[bool] = []
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
        """Commits state and its events together; only then runs the post-commit hooks (the standing ones first:
        the new events go to the dispatcher). A conflict with another transaction is a ``Conflict``."""
        try:
            self.session.flush()  # aggregates flushed first, so their rows exist before the events that name them
            event_ids = self._write_events()
            self.session.commit()
        except (IntegrityError, StaleDataError) as exc:
            self.session.rollback()
            raise _conflict(exc) from exc
        committed = Committed(self._events, event_ids)
        hooks, self._on_commit = [*self.hooks, *self._on_commit], []
        for hook in hooks:
            try:
                hook(committed)
            except Exception:  # the commit stands; the outbox relay and the sweeps cover what did not follow
                log.exception("a post-commit hook failed")

    def rollback(self) -> None:
        if self._session is not None:
            self._session.rollback()
