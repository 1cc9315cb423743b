"""What the composition roots plug into the core for stock levels: the table and repository, the command
handlers, the consumer that raises stock on delivery, the API blueprint. The core imports none of this."""
from __future__ import annotations

from . import adapters as _tables  # noqa: F401  (its table, on the core's metadata)
from .adapters import StockRepository
from .handlers import PANTRY_COMMAND_HANDLERS, stock_delivered

REPOSITORIES = {"stock": StockRepository}
COMMAND_HANDLERS = PANTRY_COMMAND_HANDLERS
ERROR_STATUSES: dict = {}  # no errors of its own beyond the core's
EVENT_CONSUMERS = {"OrderDelivered": [stock_delivered]}


def blueprints() -> list:
    from .web import bp
    return [bp]


def attach_dashboard(bp) -> None:
    """The stock levels page, on the dashboard's blueprint."""
    from .web import attach_dashboard as attach
    attach(bp)
