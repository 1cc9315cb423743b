"""What the CLI, the web endpoints and the dashboard do with OAuth clients and tokens, each in one unit of work.

Tokens are made by one generator (Authlib's ``BearerTokenGenerator``) and stored by one function, whether the
token endpoint or ``replenish oauth-token`` issues them.
"""
from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from authlib.common.security import is_secure_transport
from authlib.oauth2.rfc6750 import BearerTokenGenerator

from replenish.domain.model import hash_secret, new_id

from . import scopes
from .models import Client

ACCESS_TTL = timedelta(hours=1)
REFRESH_TTL = timedelta(days=365)  # long-lived, but replaced at every refresh; Alexa refreshes hourly in use
CODE_TTL = timedelta(minutes=5)  # Alexa exchanges the code at once; RFC 6749 says at most ten minutes
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_REDIRECT_URIS = 10


class OAuthInputError(ValueError):
    """Bad input to a command, naming the field (``client``, ``household``, ``scope``, ``redirect_uri``...)."""

    def __init__(self, field: str, message: str, code: str = "invalid"):
        super().__init__(message)
        self.field, self.message, self.code = field, message, code

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}


# -- tokens -------------------------------------------------------------------------------------------------
def _access_token(**_) -> str:
    return "rpa_" + secrets.token_urlsafe(32)


def _refresh_token(**_) -> str:
    return "rpr_" + secrets.token_urlsafe(40)


def token_generator() -> BearerTokenGenerator:
    seconds = int(ACCESS_TTL.total_seconds())
    return BearerTokenGenerator(_access_token, _refresh_token, lambda client, grant_type: seconds)


def store_token(uow, token: dict, client: Client, household_id: str, now, grant_id: str, linked_at) -> None:
    """Keeps an issued token (hashes only), bound to its household, client and grant."""
    refresh = token.get("refresh_token")
    uow.oauth.add_token(
        id=new_id(), client_id=client.id, household_id=household_id, grant_id=grant_id,
        access_token_hash=hash_secret(token["access_token"]),
        refresh_token_hash=hash_secret(refresh) if refresh else None,
        scope=token.get("scope") or "", linked_at=linked_at, issued_at=now,
        access_expires_at=now + timedelta(seconds=int(token.get("expires_in") or ACCESS_TTL.total_seconds())),
        refresh_expires_at=now + REFRESH_TTL if refresh else None)


def check_scope(scope: str | None, field: str = "scope") -> str:
    bad = scopes.unknown(scope)
    if bad:
        raise OAuthInputError(field, f"Unknown scope {bad[0]!r}; the scopes are {', '.join(scopes.ALL)}.",
                              "invalid_scope")
    return scopes.normalise(scope)


def issue_token(container, household_id: str, client_name: str, scope: str | None) -> dict:
    """A token for a household and client, as the token endpoint issues it after a consent (operators, tests)."""
    asked = check_scope(scope)
    now = container.clock()
    with container.uow() as uow:
        client = uow.oauth.client_named(client_name or "")
        if client is None:
            raise OAuthInputError("client", f"There is no OAuth client named {client_name!r} "
                                            "(replenish oauth-client list).", "not_found")
        if uow.households.get(household_id or "") is None:
            raise OAuthInputError("household", f"There is no household {household_id!r}.", "not_found")
        allowed = client.get_allowed_scope(asked)
        if allowed is None:
            raise OAuthInputError("scope", f"The client {client.name} may only ask for: {client.scope}.",
                                  "invalid_scope")
        token = token_generator().generate("authorization_code", client, user=household_id, scope=allowed,
                                           include_refresh_token=True)
        store_token(uow, token, client, household_id, now, grant_id=new_id(), linked_at=now)
        uow.commit()
    return token


# -- clients ------------------------------------------------------------------------------------------------
def check_redirect_uri(uri: str) -> str:
    uri = (uri or "").strip()
    try:
        parts = urlsplit(uri)
    except ValueError:
        parts = None
    if not parts or not parts.scheme or not parts.netloc or len(uri) > 2000:
        raise OAuthInputError("redirect_uri", f"{uri!r} is not an absolute URL.")
    if parts.fragment:
        raise OAuthInputError("redirect_uri", f"{uri!r} has a fragment (#...); a redirect URI may not.")
    if not is_secure_transport(uri):
        raise OAuthInputError("redirect_uri", f"{uri!r} must use https (http only for this machine: localhost "
                                              "or 127.0.0.1).")
    return uri


def create_client(container, name: str, redirect_uris, display_name: str | None = None,
                  scope: str | None = None) -> dict:
    name = (name or "").strip()
    if not NAME.match(name):
        raise OAuthInputError("name", "A client name is 1 to 64 lowercase letters, digits, - or _, like alexa.")
    uris = [check_redirect_uri(u) for u in redirect_uris or ()]
    if not uris:
        raise OAuthInputError("redirect_uri", "Give at least one redirect URI (for Alexa: every Alexa Redirect "
                                              "URL shown on the skill's account-linking page).")
    if len(uris) > MAX_REDIRECT_URIS:
        raise OAuthInputError("redirect_uri", f"At most {MAX_REDIRECT_URIS} redirect URIs.")
    allowed = check_scope(scope) if scope else scopes.DEFAULT
    if not allowed:
        raise OAuthInputError("scope", f"Give at least one scope of {', '.join(scopes.ALL)}.", "invalid_scope")
    display = (display_name or "").strip() or f"Replenish for {name[:1].upper()}{name[1:]}"
    if len(display) > 200:
        raise OAuthInputError("display_name", "A display name is at most 200 characters.")
    secret = "rpcs_" + secrets.token_urlsafe(32)
    client = Client(id="rpc_" + secrets.token_hex(12), name=name, display_name=display,
                    secret_hash=hash_secret(secret), redirect_uris=list(dict.fromkeys(uris)), scope=allowed,
                    created_at=container.clock())
    with container.uow() as uow:
        if uow.oauth.client_named(name) is not None:
            raise OAuthInputError("name", f"A client named {name} already exists; revoke it first "
                                          f"(replenish oauth-client revoke {name}) or choose another name.",
                                  "conflict")
        uow.oauth.add_client(client)
        uow.commit()
    return {**client_view(client), "client_secret": secret}


def client_view(client: Client, linked: int | None = None) -> dict:
    view: dict[str, Any] = {"client_id": client.id, "name": client.name, "display_name": client.display_name,
            "redirect_uris": list(client.redirect_uris), "scope": client.scope,
            "created_at": client.created_at.isoformat() if client.created_at else None}
    if linked is not None:
        view["linked_households"] = linked
    return view


def list_clients(container) -> list[dict]:
    with container.uow() as uow:
        links = uow.oauth.live_links(container.clock())
        return [client_view(c, links.get(c.id, 0)) for c in uow.oauth.clients()]


def revoke_client(container, name: str) -> dict:
    """Removes a client: its secret stops working and every household linked through it is unlinked."""
    with container.uow() as uow:
        client = uow.oauth.client_named(name or "")
        if client is None:
            raise OAuthInputError("name", f"There is no OAuth client named {name!r}.", "not_found")
        unlinked = uow.oauth.delete_client(client.id)
        uow.commit()
    return {"revoked": client.name, "client_id": client.id, "households_unlinked": unlinked}


# -- the household's side -----------------------------------------------------------------------------------
def linked_apps(container, household_id: str) -> list[dict]:
    with container.uow() as uow:
        rows = uow.oauth.linked(household_id, container.clock())
    return [{"client_id": c.id, "name": c.name, "display_name": c.display_name, "linked_at": first,
             "scope": scopes.normalise(scope), "can": scopes.in_words(scope)} for c, first, scope in rows]


TOKENS_KEPT = timedelta(days=30)  # how long an ended token's row stays (a reused refresh token is recognised)


def prune(container) -> int:
    """Forgets tokens that ended more than ``TOKENS_KEPT`` ago (beat runs it daily); how many."""
    with container.uow() as uow:
        pruned = uow.oauth.prune_tokens(container.clock() - TOKENS_KEPT)
        uow.commit()
    return pruned


def unlink(container, household_id: str, client_id: str) -> str | None:
    """Revokes every token of the client for the household; the client's display name, or None if unknown."""
    with container.uow() as uow:
        client = uow.oauth.client(client_id or "")
        if client is None:
            return None
        uow.oauth.unlink(household_id, client.id, container.clock())
        uow.commit()
    return client.display_name
