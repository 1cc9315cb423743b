"""Use cases: one handler per command, the message bus and the unit of work."""
