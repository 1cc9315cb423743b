"""What every aggregate shares: the events it records, which the unit of work moves to the outbox."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .events import Event


class Aggregate:
    events: list[Event]

    if not TYPE_CHECKING:  # hidden from the type checker, which would otherwise allow any attribute name
        def __getattr__(self, name):
            # Instances loaded by the ORM skip __init__; their event list is made on first use.
            if name == "events":
                self.events = []
                return self.events
            raise AttributeError(name)
