"""Secrets never reach the access log. A one-time sign-in link carries its secret in the path
(``/dashboard/link/<secret>``): the access log line shows ``/dashboard/link/[redacted]`` instead, for the
development server (werkzeug's request log) and for gunicorn (its access logger)."""
from __future__ import annotations

import logging
import re
from typing import Any

_SECRET_PATHS = re.compile(r"(/dashboard/link/)[^\s/?\"]+")


def redact(text: str) -> str:
    return _SECRET_PATHS.sub(r"\1[redacted]", text)


class RedactSecrets(logging.Filter):
    """Rewrites a record's message (and its arguments) with the secrets in paths redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args) \
                if isinstance(record.args, tuple) else record.args
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install(logger_name: str = "werkzeug") -> None:
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, RedactSecrets) for f in logger.filters):
        logger.addFilter(RedactSecrets())


def _gunicorn_logger() -> type[Any] | None:
    """gunicorn's logger with the redaction, or None without gunicorn (the embedded mode does not need it)."""
    try:  # gunicorn is there in services mode
        from gunicorn.glogging import Logger
    except ImportError:  # pragma: no cover
        return None

    class GunicornLogger(Logger):
        """gunicorn's logger with the request line's secrets redacted from every access log line."""

        def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
            atoms = super().atoms(resp, req, environ, request_time)
            for key in ("r", "U", "f", "{raw_uri}e"):
                if isinstance(atoms.get(key), str):
                    atoms[key] = redact(atoms[key])
            return atoms
    return GunicornLogger


# `logger_class` in infra/gunicorn.conf.py names this
GunicornLogger = _gunicorn_logger()
