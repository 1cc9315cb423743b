"""Adapters to the outside: database, Redis, retailers, notifiers."""
