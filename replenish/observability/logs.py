"""Structured logs (structlog over the standard library): JSON lines when stderr is not a terminal, a readable
console otherwise. Every line carries the request id bound for the current request or task, so one order's
story can be followed with ``grep <request id>`` across web and worker logs.

Everything that logs through ``logging`` (our modules, Celery, gunicorn's error log) goes through the same
formatter, and every line passes through the secret redaction of ``replenish.web.logredact``."""
from __future__ import annotations

import logging
import re
import sys
import uuid
from collections.abc import MutableMapping
from typing import IO, Any

import structlog
from structlog.typing import Processor

from replenish.web.logredact import redact

REQUEST_ID_HEADER = "X-Request-Id"
# What we accept from a client: short, printable, no spaces or quotes (it ends up in headers and log lines).
_WELL_FORMED = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def new_request_id() -> str:
    return uuid.uuid4().hex


def accept_request_id(value: str | None) -> str:
    """The client's request id if well formed, else a fresh one."""
    if value and _WELL_FORMED.match(value):
        return value
    return new_request_id()


def current_request_id() -> str | None:
    return structlog.contextvars.get_contextvars().get("request_id")


def bind(**values: Any) -> None:
    structlog.contextvars.bind_contextvars(**values)


def clear() -> None:
    structlog.contextvars.clear_contextvars()


def _redact_strings(_logger: Any, _name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in event_dict.items():
        if isinstance(value, str):
            event_dict[key] = redact(value)
    return event_dict


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
    ]


_configured: dict[str, bool] = {}


class _Handler(logging.StreamHandler):
    _replenish = True  # the handler configure() installs (the next call replaces it)


def configure(level: int | str = logging.INFO, json: bool | None = None, stream: IO[str] | None = None) -> None:
    """Sends every ``logging`` record and every structlog event to ``stream`` (stderr) as one line each.
    ``json`` defaults to "stderr is not a terminal". Safe to call again (the handler is replaced)."""
    stream = stream or sys.stderr
    if json is None:
        json = not (hasattr(stream, "isatty") and stream.isatty())
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[*_shared_processors(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, _redact_strings, renderer],
    )
    handler = _Handler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_replenish", False) or isinstance(h, logging.StreamHandler)
                and not _is_test_handler(h)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("alembic", "urllib3", "botocore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    _configured["json"] = json


def _is_test_handler(handler: logging.Handler) -> bool:
    return type(handler).__module__.startswith("_pytest")


def get_logger(name: str | None = None) -> Any:
    return structlog.stdlib.get_logger(name)
