"""Thin Celery tasks. No business rule here: each builds a command or calls a job and hands it on."""
from __future__ import annotations

import logging

from celery.signals import worker_process_init
from sqlalchemy.exc import OperationalError

from replenish.domain import commands
from replenish.services import event_handlers
from replenish.services.ports import TransientError

from . import runtime
from .celery_app import app

log = logging.getLogger(__name__)
RETRY = dict(autoretry_for=(TransientError, OperationalError), retry_backoff=True, retry_backoff_max=300,
             retry_jitter=True, max_retries=12, acks_late=True)


@worker_process_init.connect
def _fresh_container(**_):
    # A forked pool process must not share the parent's database connections.
    runtime.reset()


@app.task(name="workers.tasks.handle_event", **RETRY)
def handle_event(event_id: int) -> str:
    return runtime.container().bus.handle_event(int(event_id))


@app.task(name="workers.tasks.drain_outbox", **RETRY)
def drain_outbox() -> int:
    return event_handlers.drain_outbox(runtime.container().deps)


@app.task(name="workers.tasks.prune_oauth_tokens", acks_late=True)
def prune_oauth_tokens() -> int:
    from replenish.oauth import service
    return service.prune(runtime.container())


# No autoretry: a store that does not answer puts the order back with a due time (one retry layer, in the
# services), and the due-orders sweep sends it again; a database error leaves the order pending for the sweep.
@app.task(name="workers.tasks.submit_order", acks_late=True)
def submit_order(order_id: str) -> str:
    return runtime.container().bus.handle(commands.SubmitOrder(order_id))


@app.task(name="workers.tasks.track_order", **RETRY)
def track_order(order_id: str) -> str:
    return runtime.container().bus.handle(commands.TrackOrder(order_id))


@app.task(name="workers.tasks.relay_outbox", acks_late=True)
def relay_outbox() -> int:
    return event_handlers.relay_outbox(runtime.container().deps)


@app.task(name="workers.tasks.submit_due_orders", acks_late=True)
def submit_due_orders() -> int:
    return event_handlers.submit_due(runtime.container().deps)


@app.task(name="workers.tasks.track_in_transit", acks_late=True)
def track_in_transit() -> int:
    return event_handlers.track_in_transit(runtime.container().deps)


@app.task(name="workers.tasks.retrain_models", acks_late=True)
def retrain_models() -> str | None:
    return runtime.container().recommendations.retrain()


@app.task(name="workers.tasks.noop", acks_late=True)
def noop(i: int = 0, counter: str | None = None) -> int:
    """For benchmarks: the broker's and worker's own cost, with no work behind it (but a count to see it done)."""
    if counter:
        runtime.container().redis.incr(counter)
    return i
