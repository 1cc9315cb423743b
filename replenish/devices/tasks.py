"""The devices feature's Celery tasks: partner webhook deliveries (one task per delivery, retried with exponential
backoff on transient failure), their safety-net resend, and pruning the signed-request log."""
from __future__ import annotations

from sqlalchemy.exc import OperationalError

from replenish.devices.services import events as device_events
from replenish.services.ports import TransientError
from workers import runtime
from workers.celery_app import app


@app.task(name="replenish.devices.tasks.deliver_webhook", autoretry_for=(TransientError, OperationalError),
          retry_backoff=5, retry_backoff_max=3600, retry_jitter=True, max_retries=device_events.MAX_ATTEMPTS,
          acks_late=True)
def deliver_webhook(delivery_id: str) -> str:
    return device_events.deliver_webhook(delivery_id, runtime.container().deps)


@app.task(name="replenish.devices.tasks.prune_signed_requests", acks_late=True)
def prune_signed_requests() -> int:
    """Forgets signed requests older than the replay window (their signatures are refused as too old anyway)."""
    from replenish.devices.adapters.signed_requests import SignedRequestLog
    container = runtime.container()
    return SignedRequestLog(container.engine).prune(container.clock())


@app.task(name="replenish.devices.tasks.resend_pending_webhooks", acks_late=True)
def resend_pending_webhooks() -> int:
    return device_events.resend_pending(runtime.container().deps)
