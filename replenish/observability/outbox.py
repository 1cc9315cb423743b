"""The request id rides along with the events: each outbox row written while a request (or a task carrying
one) is being handled gets ``request_id`` in its payload, and a worker that claims the row logs it, so
``grep <request id>`` finds the web request, the worker handling its event, and the follow-up events written
for the same order in that worker (an ``OrderSubmitted`` carries its ``OrderPlaced``'s id).

Payload keys that an event class does not declare are ignored when the event is loaded
(``Event.from_payload``), and the order timeline shows only chosen keys, so the id never leaks out."""
from __future__ import annotations

import logging

from replenish.adapters.repository import OutboxRepository
from replenish.services.unit_of_work import SqlAlchemyUnitOfWork

from .logs import current_request_id

log = logging.getLogger("replenish.outbox")


class RequestTaggedOutbox(OutboxRepository):
    def __init__(self, session):
        super().__init__(session)
        self.origins: dict[str, str] = {}  # order id -> request id, from the events this unit of work claimed

    def row(self, event, aggregate_id, household_id, now, handled: bool = False) -> dict:
        row = super().row(event, aggregate_id, household_id, now, handled)
        request_id = self.origins.get(aggregate_id or "") or current_request_id()
        if request_id:
            row["payload"] = {**row["payload"], "request_id": request_id}
        return row

    def claim_batch(self, limit, now):
        rows = super().claim_batch(limit, now)
        self._claimed(rows)
        return rows

    def claim(self, event_id, now):
        row = super().claim(event_id, now)
        if row is not None:
            self._claimed([row])
        return row

    def _claimed(self, rows) -> None:
        for row in rows:
            payload = row.payload if isinstance(row.payload, dict) else {}
            request_id, order_id = payload.get("request_id"), payload.get("order_id")
            if request_id and order_id:
                self.origins[order_id] = request_id
            log.info("handling event", extra={"event_type": row.event_type, "order_id": order_id,
                                              "origin_request_id": request_id})


class ObservedUnitOfWork(SqlAlchemyUnitOfWork):
    """The unit of work with request-tagged outbox rows (bootstrap gives it the post-commit hooks)."""

    def __enter__(self) -> ObservedUnitOfWork:
        super().__enter__()
        self.outbox = RequestTaggedOutbox(self.session)
        return self
