"""What the composition roots plug in for OAuth account linking: its tables (on the core's metadata), its store
on the unit of work (``uow.oauth``), its blueprint, its routes on the dashboard's blueprint and its commands.
The core imports none of this package."""
from __future__ import annotations

from . import tables as _tables  # noqa: F401  (importing it puts the tables on the core's metadata)
from .store import OAuthStore

REPOSITORIES = {"oauth": OAuthStore}
COMMAND_HANDLERS: dict = {}  # account linking is driven by its web flow and CLI, not by bus commands
ERROR_STATUSES: dict = {}  # no errors of its own beyond the core's
EVENT_CONSUMERS: dict = {}


def blueprints() -> list:
    from .web import bp
    return [bp]


def attach_dashboard(bp) -> None:
    """The way back from sign-in to the consent page, "Unlink" in Settings and the list of linked apps, on the
    dashboard's blueprint."""
    from .web import init_dashboard
    init_dashboard(bp)


def register_commands(main, make_container) -> None:
    from . import cli
    cli.register(main, make_container)
