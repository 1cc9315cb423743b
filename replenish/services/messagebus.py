"""The message bus: routes a command to its handler, and an event to its consumers, with the dependencies
bootstrap gave it. It holds no table of its own: ``bootstrap()`` builds both from the packages' declared tables,
so two containers in one process never share handlers or consumers."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from . import event_handlers
from .event_handlers import EventConsumers
from .handlers import CommandHandler, Deps
from .unit_of_work import SqlAlchemyUnitOfWork


class MessageBus:
    def __init__(self, deps: Deps, command_handlers: Mapping[type, CommandHandler],
                 consumers: EventConsumers):
        self.deps = deps
        self.command_handlers = dict(command_handlers)
        self.consumers = consumers
        deps.consumers = consumers  # the outbox drain, relay and sweeps reach them through the deps

    def handle(self, command: object) -> Any:
        handler = self.command_handlers.get(type(command))
        if handler is None:
            raise TypeError(f"no handler for {type(command).__name__}")
        return handler(command, self.deps)

    def handle_event(self, event_id: int) -> str:
        return event_handlers.handle_event(event_id, self.deps)

    @property
    def uow(self) -> Callable[[], SqlAlchemyUnitOfWork]:
        return self.deps.uow
