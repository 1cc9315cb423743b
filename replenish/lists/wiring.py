"""What the composition roots plug into the core for the shopping list: its tables and repository, its command
handlers, its API blueprint and dashboard page. The core imports none of this package."""
from __future__ import annotations

from . import adapters as _tables  # noqa: F401  (its tables, on the core's metadata: Alembic, create_all)
from .adapters import ListRepository
from .handlers import LIST_COMMAND_HANDLERS
from .model import ListChanged

REPOSITORIES = {"lists": ListRepository}
COMMAND_HANDLERS = LIST_COMMAND_HANDLERS
EVENT_CONSUMERS: dict = {}  # the list consumes no events
ERROR_STATUSES = {ListChanged: 409}  # for the web layer's table (replenish.web.errors)


def blueprints() -> list:
    from .web import bp
    return [bp]


def attach_dashboard(bp) -> None:
    """The list page, on the dashboard's blueprint."""
    from .web import attach_dashboard as attach
    attach(bp)
