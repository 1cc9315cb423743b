"""What the composition roots plug into the core for members and approvals: their tables and repository, their
command handlers (including the member-aware ``PlaceOrder``), the API blueprint, the dashboard pages and the
Celery task that expires requests. The core imports none of this package."""
from __future__ import annotations

from . import adapters as _tables  # noqa: F401  (its tables, on the core's metadata: Alembic, create_all)
from .adapters import MemberRepository
from .handlers import MEMBER_COMMAND_HANDLERS
from .model import ApprovalNeeded, NotAllowed, RequestClosed

REPOSITORIES = {"members": MemberRepository}
COMMAND_HANDLERS = MEMBER_COMMAND_HANDLERS
EVENT_CONSUMERS: dict = {}  # members consume no events
ERROR_STATUSES = {ApprovalNeeded: 403, NotAllowed: 403, RequestClosed: 409}  # for replenish.web.errors
CELERY_MODULES = ("replenish.members.tasks",)


def blueprints() -> list:
    from .web import bp
    return [bp]


def attach_dashboard(bp) -> None:
    """The members and approvals pages and the member gate, on the dashboard's blueprint."""
    from .web import attach_dashboard as attach
    attach(bp)
