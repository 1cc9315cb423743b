"""The digest's Celery task: beat asks every hour; each household gets its digest on its own Sunday evening."""
from __future__ import annotations

from workers import runtime
from workers.celery_app import app

from .handlers import SendWeeklyDigests


@app.task(name="replenish.digest.tasks.send_weekly_digests", acks_late=True)
def send_weekly_digests() -> int:
    return runtime.container().bus.handle(SendWeeklyDigests())
