"""The Celery application. Configured from the same settings as everything else; periodic jobs live here."""
from __future__ import annotations

from celery import Celery

from replenish.config import Settings
from replenish.observability import celery as _observability


def beat_schedule(settings: Settings) -> dict:
    """Periodic jobs, registered in one place (beat in real mode, a scheduler thread in embedded mode)."""
    return {
        "relay-outbox": {"task": "workers.tasks.relay_outbox", "schedule": settings.relay_interval_seconds},
        # signed requests older than the replay window
        "prune-oauth-tokens": {"task": "workers.tasks.prune_oauth_tokens", "schedule": 86400.0},
        "prune-signed-requests": {"task": "replenish.devices.tasks.prune_signed_requests", "schedule": 300.0},
        "submit-due-orders": {"task": "workers.tasks.submit_due_orders", "schedule": settings.sweep_interval_seconds},
        "track-in-transit": {"task": "workers.tasks.track_in_transit", "schedule": settings.track_interval_seconds},
        "retrain-models": {"task": "workers.tasks.retrain_models", "schedule": settings.retrain_interval_seconds},
        "resend-webhooks": {"task": "replenish.devices.tasks.resend_pending_webhooks", "schedule": 60.0},
        "expire-approvals": {"task": "replenish.members.tasks.expire_approvals", "schedule": 300.0},
        "weekly-digests": {"task": "replenish.digest.tasks.send_weekly_digests", "schedule": 3600.0},
    }


def configure(app: Celery, settings: Settings) -> Celery:
    transport: dict[str, float] = {"visibility_timeout": 2 * 3600}  # longer than any cancel window (ETA tasks)
    if settings.broker_url.startswith("memory://"):
        transport["polling_interval"] = 0.01  # otherwise each task waits about a second
    app.conf.update(
        broker_url=settings.broker_url,
        result_backend=None,
        task_ignore_result=True,
        task_acks_late=True,  # a task killed half way is delivered again
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=settings.queue_name,
        broker_transport_options=transport,
        broker_connection_retry_on_startup=True,
        # A web request must not hang while the broker is down: give up fast, the outbox relay resends.
        task_publish_retry=True,
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5},
        broker_connection_timeout=2,
        beat_schedule=beat_schedule(settings),
        timezone="UTC",
        worker_hijack_root_logger=False,
        task_serializer="json",
        accept_content=["json"],
    )
    return app


def make_celery(settings: Settings) -> Celery:
    tasks = ["workers.tasks", "replenish.devices.tasks", "replenish.members.tasks", "replenish.digest.tasks"]
    return configure(Celery("replenish", include=tasks), settings)


settings = Settings.from_env()  # this process's settings, read once (the tasks' container gets its own)
app = make_celery(settings)
_observability.connect(app, settings)  # JSON logs, request ids in task headers, task metrics (Celery signals)
BEAT_SCHEDULE = app.conf.beat_schedule
