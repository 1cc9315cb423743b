"""Who is calling: a household, by its API token (Authorization: Bearer ...). Failed tokens are throttled per
client address and per token (``throttle``)."""
from __future__ import annotations

from functools import wraps

from flask import current_app, g, request

from . import throttle
from .errors import ApiError


def container():
    return current_app.extensions["replenish"]


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def household_for_token(token: str | None) -> str | None:
    if not token:
        return None
    with container().uow() as uow:
        household = uow.households.by_token(token)
        return household.id if household else None


def require_household(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        token = bearer_token()
        credential = throttle.token_credential(token)
        throttle.refuse_if_over(credential)
        household_id = household_for_token(token)
        if household_id is None:
            if token:
                throttle.failed("bearer_token", credential, "unknown or revoked household token")
            raise ApiError(401, "unauthorized", "A valid household token is required (Authorization: Bearer <token>).",
                           field="Authorization", headers={"WWW-Authenticate": 'Bearer realm="replenish"'})
        g.household_id = household_id
        return view(*args, **kwargs)
    return wrapper


def json_body() -> dict:
    """The request's JSON object, or a 400 that says what is wrong with it. The body is read as sent, whatever
    its Content-Type says (``curl -d`` labels JSON as a form; ``request.data`` would then be empty)."""
    if not request.get_data(cache=True):
        return {}
    data = request.get_json(silent=True, force=True)
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "The body must be a JSON object.", field="body")
    return data
