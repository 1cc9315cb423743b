"""What every aggregate shares: the events it records, which the unit of work moves to the outbox."""
from __future__ import annotations


class Aggregate:
    events: list

    def __getattr__(self, name):
        # Instances loaded by the ORM skip __init__; their event list is made on first use.
        if name == "events":
            self.events = []
            return self.events
        raise AttributeError(name)
