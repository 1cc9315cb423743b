"""What the composition roots (``replenish.bootstrap``, the web app factory, the CLI, the Celery app) plug into
the core for the devices feature: its mappers and tables, its repositories on the unit of work, its command
handlers on the bus, its event consumers, its blueprints, dashboard pages and commands. The core imports none of
this package; this package calls the core (``place_order``, ``cancel_order``, the outbox)."""
from __future__ import annotations

from .adapters import orm as _orm
from .adapters.repository import DeviceRepository, WebhookLog
from .domain.model import DeviceGone, Unauthorized
from .services.events import EVENT_CONSUMERS as DEVICE_EVENT_CONSUMERS
from .services.handlers import DEVICE_COMMAND_HANDLERS, LinkCodeInvalid, NotATestOrder, NotifyOnly, SlotFull

REPOSITORIES = {"devices": DeviceRepository, "webhooks": WebhookLog}
COMMAND_HANDLERS = DEVICE_COMMAND_HANDLERS
EVENT_CONSUMERS = DEVICE_EVENT_CONSUMERS  # household notices, partner webhooks
# The HTTP statuses of the feature's errors, added to the web layer's table by the app factory.
ERROR_STATUSES = {DeviceGone: 410, Unauthorized: 401, LinkCodeInvalid: 400, SlotFull: 409, NotATestOrder: 409,
                  NotifyOnly: 409}
CELERY_MODULES = ("replenish.devices.tasks",)
metadata_tables = _orm  # importing it puts the feature's tables on the core's metadata (Alembic, create_all)


def start_mappers() -> None:
    _orm.start_mappers()


def blueprints() -> list:
    from .web import buttons, partners
    return [buttons.bp, partners.bp]


def attach_dashboard(bp) -> None:
    """The buttons and appliances pages, on the dashboard's blueprint."""
    from .web import dashboard
    dashboard.init(bp)


def dashboard_pages_available() -> dict[str, bool]:
    from .web import dashboard
    return dashboard.available()


def register_commands(main, make_container) -> None:
    from . import cli
    cli.register(main, make_container)
