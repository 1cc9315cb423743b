"""What the composition roots plug in for the weekly digest: its command handler and its beat task."""
from __future__ import annotations

from .handlers import DIGEST_COMMAND_HANDLERS

COMMAND_HANDLERS = DIGEST_COMMAND_HANDLERS
REPOSITORIES: dict = {}
EVENT_CONSUMERS: dict = {}
ERROR_STATUSES: dict = {}
CELERY_MODULES = ("replenish.digest.tasks",)
