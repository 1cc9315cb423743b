"""Every error is JSON naming the problem; bad input is a 4xx, never a 500."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, current_app, has_app_context, jsonify, request
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from replenish.domain import errors as domain
from replenish.domain.errors import DomainError
from replenish.services.handlers import LastToken
from replenish.services.ports import PermanentError, TransientError

log = logging.getLogger(__name__)

# The HTTP status of each domain error class (the nearest class in an error's ancestry wins). The core's entries
# are here; a feature's web layer adds its own through its wiring (``ERROR_STATUSES``, given to
# ``add_error_statuses`` by the app factory), so the domain never names an HTTP status.
ERROR_STATUSES: dict[type[Exception], int] = {
    DomainError: 422,
    domain.NotFound: 404,
    domain.ProductUnavailable: 409,
    domain.IllegalTransition: 409,
    domain.LimitExceeded: 422,
    domain.InvalidCommand: 400,
    domain.PinLocked: 423,
    domain.IdempotencyKeyReused: 422,
    domain.Conflict: 409,
    LastToken: 409,
}
_APP_KEY = "replenish_error_statuses"


def add_error_statuses(app: Flask, statuses: Mapping[type[Exception], int]) -> None:
    """A feature's own error classes and their statuses, for this app."""
    app.extensions.setdefault(_APP_KEY, dict(ERROR_STATUSES)).update(statuses)


def status_for(exc: Exception) -> int:
    """The HTTP status for a domain error: this app's table, else the core's."""
    table = current_app.extensions.get(_APP_KEY, ERROR_STATUSES) if has_app_context() else ERROR_STATUSES
    for cls in type(exc).__mro__:
        if cls in table:
            return table[cls]
    return 422


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None, headers=None, **details):
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.headers = headers or {}
        self.details = details


def error_body(code: str, message: str, field: str | None = None, **details: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field:
        error["field"] = field
    if details:
        error["details"] = details
    return {"error": error}


def validation_error_response(exc: ValidationError):
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first.get("loc", ())) or None
    message = f"{field}: {first.get('msg')}" if field else first.get("msg", "invalid input")
    body = error_body("invalid", message, field)
    body["error"]["problems"] = [{"field": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg")}
                                 for e in exc.errors()]
    return jsonify(body), 400


def public_message(exc: Exception) -> str:
    """The sentence to show a person for an error of the core (a domain rule, the store's no, a busy dependency);
    any other exception is a bug and is raised again."""
    if isinstance(exc, DomainError):
        return exc.message
    if isinstance(exc, PermanentError):
        return str(exc) or "The store refused."
    if isinstance(exc, TransientError):
        return exc.public_message
    raise exc


def register_error_handlers(app: Flask) -> None:
    app.extensions.setdefault(_APP_KEY, dict(ERROR_STATUSES))

    @app.errorhandler(ApiError)
    def _api(exc: ApiError):
        return jsonify(error_body(exc.code, exc.message, exc.field, **exc.details)), exc.status, exc.headers

    @app.errorhandler(ValidationError)
    def _validation(exc: ValidationError):
        return validation_error_response(exc)

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        details = {k: v for k, v in exc.details.items() if isinstance(v, (str, int, float, bool, type(None)))}
        return jsonify(error_body(exc.code, exc.message, exc.field, **details)), status_for(exc)

    @app.errorhandler(PermanentError)
    def _refused(exc: PermanentError):
        return jsonify(error_body("refused_by_store", str(exc))), 409

    @app.errorhandler(TransientError)
    def _unavailable(exc: TransientError):
        return jsonify(error_body("store_unavailable", exc.public_message)), 503

    @app.errorhandler(OperationalError)
    def _database_unavailable(exc: OperationalError):
        log.warning("database unavailable: %s", exc)
        return jsonify(error_body("database_unavailable", "The database is not answering; try again shortly.")), \
            503, {"Retry-After": "5"}

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if request.blueprint is None and (request.path == "/dashboard" or request.path.startswith("/dashboard/")):
            # No dashboard route matched (so its blueprint's own handler is not asked): a person in a browser
            # gets the dashboard's error page, not JSON.
            from replenish.web.dashboard import error_page
            return error_page(exc)
        code = (exc.name or "error").lower().replace(" ", "_")
        return jsonify(error_body(code, exc.description or exc.name)), exc.code, dict(
            (k, v) for k, v in exc.get_headers() if k.lower() == "allow")

    @app.errorhandler(Exception)
    def _bug(exc: Exception):
        log.exception("unhandled error")
        return jsonify(error_body("internal_error", "Something went wrong on our side.")), 500
