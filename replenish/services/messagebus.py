"""The message bus: routes a command to its handler with the dependencies bootstrap gave it."""
from __future__ import annotations

from typing import Any

from . import event_handlers
from .handlers import COMMAND_HANDLERS, Deps


class MessageBus:
    def __init__(self, deps: Deps, command_handlers: dict | None = None):
        self.deps = deps
        self.command_handlers = dict(COMMAND_HANDLERS)
        self.command_handlers.update(command_handlers or {})  # other features' handlers, given by bootstrap

    def handle(self, command) -> Any:
        handler = self.command_handlers.get(type(command))
        if handler is None:
            raise TypeError(f"no handler for {type(command).__name__}")
        return handler(command, self.deps)

    def handle_event(self, event_id: int) -> str:
        return event_handlers.handle_event(event_id, self.deps)

    @property
    def uow(self):
        return self.deps.uow
