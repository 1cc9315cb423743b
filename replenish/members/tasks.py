"""The members feature's Celery task: approval requests a day old expire (the household's feed is told)."""
from __future__ import annotations

from workers import runtime
from workers.celery_app import app

from .model import ExpireApprovals


@app.task(name="replenish.members.tasks.expire_approvals", acks_late=True)
def expire_approvals() -> int:
    return runtime.container().bus.handle(ExpireApprovals())
