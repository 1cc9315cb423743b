"""Partner webhook deliveries: one task per delivery, retried with exponential backoff on transient failure."""
from __future__ import annotations

from sqlalchemy.exc import OperationalError

from replenish.services import device_events
from replenish.services.ports import TransientError

from . import runtime
from .celery_app import app


@app.task(name="workers.webhook_tasks.deliver_webhook", autoretry_for=(TransientError, OperationalError),
          retry_backoff=5, retry_backoff_max=3600, retry_jitter=True, max_retries=device_events.MAX_ATTEMPTS,
          acks_late=True)
def deliver_webhook(delivery_id: str) -> str:
    return device_events.deliver_webhook(delivery_id, runtime.container().deps)


@app.task(name="workers.webhook_tasks.resend_pending_webhooks", acks_late=True)
def resend_pending_webhooks() -> int:
    return device_events.resend_pending(runtime.container().deps)
