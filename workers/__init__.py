"""Celery app and thin tasks: each translates a message into a bus call."""
