"""The members feature's Celery tasks: approval requests a day old expire (the household's feed is told); a member's
own notice channel follows their contact."""
from __future__ import annotations

from replenish.services.ports import TransientError
from workers import runtime
from workers.celery_app import app

from .model import ExpireApprovals, ReachMember


@app.task(name="replenish.members.tasks.expire_approvals", acks_late=True)
def expire_approvals() -> int:
    return runtime.container().bus.handle(ExpireApprovals())


@app.task(name="replenish.members.tasks.reach_member", acks_late=True, autoretry_for=(TransientError,),
          retry_backoff=True, retry_backoff_max=300, retry_jitter=True, max_retries=12)
def reach_member(household_id: str, member_id: str) -> bool:
    return runtime.container().bus.handle(ReachMember(household_id, member_id))
