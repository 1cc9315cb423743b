"""Clients, codes and tokens as Authlib sees them: plain values read from the tables, with the checks Authlib's
grants call (``ClientMixin``, ``AuthorizationCodeMixin``, ``TokenMixin``)."""
from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import datetime

from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, ClientMixin, TokenMixin

from replenish.domain.model import hash_secret

from . import scopes

GRANT_TYPES = ("authorization_code", "refresh_token")
AUTH_METHODS = ("client_secret_basic", "client_secret_post")  # confidential clients only; Alexa uses either


@dataclass
class Client(ClientMixin):
    id: str
    name: str
    display_name: str
    secret_hash: str
    redirect_uris: list = field(default_factory=list)
    scope: str = scopes.DEFAULT
    created_at: datetime | None = None

    def get_client_id(self):
        return self.id

    def get_default_redirect_uri(self):
        # Only when there is no doubt; with several registered the request must name one.
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope):
        if not scope:
            return self.scope
        allowed = set(scopes.split(self.scope))
        asked = scopes.split(scope)
        if any(s not in allowed for s in asked):
            return None  # Authlib answers invalid_scope
        return scopes.normalise(scope)

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret):
        return hmac.compare_digest(self.secret_hash, hash_secret(client_secret or ""))

    def check_endpoint_auth_method(self, method, endpoint):
        return method in AUTH_METHODS

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type in GRANT_TYPES


@dataclass
class AuthorizationCode(AuthorizationCodeMixin):
    code_hash: str
    client_id: str
    household_id: str
    grant_id: str
    redirect_uri: str | None
    scope: str
    code_challenge: str | None
    code_challenge_method: str | None
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope


@dataclass
class Token(TokenMixin):
    id: str
    client_id: str
    household_id: str
    grant_id: str
    scope: str
    linked_at: datetime
    issued_at: datetime
    access_expires_at: datetime
    refresh_expires_at: datetime | None
    revoked_at: datetime | None
    now: datetime | None = None  # when it was read: what "expired" is measured against

    def check_client(self, client):
        return self.client_id == client.get_client_id()

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return int((self.access_expires_at - self.issued_at).total_seconds())

    def is_expired(self):
        return self.now is not None and self.access_expires_at <= self.now

    def is_revoked(self):
        return self.revoked_at is not None

    def get_user(self):
        return self.household_id

    def get_client(self):
        return None
