"""The Authlib authorization server, one per Flask app: grants, client authentication, revocation.

Authlib runs the protocol; the methods here only read and write the store. Exchanging a code and rotating a
refresh token happen in ``save_token``'s one transaction (claim the code or retire the old token, then store
the new one): of two requests racing with the same code or refresh token, one gets tokens and the other an
``invalid_grant``. A code or refresh token presented again after it was used revokes every token of its grant
(RFC 9700 4.14.2: somebody else may hold a copy).
"""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Payload, FlaskOAuth2Request
from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError, OAuth2Request, grants
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import request as flask_request

from replenish.domain.model import hash_secret, new_id

from . import scopes, service
from .models import AUTH_METHODS, AuthorizationCode

if TYPE_CHECKING:
    from replenish.bootstrap import Container

log = logging.getLogger(__name__)


class S256Challenge(CodeChallenge):
    """PKCE, optional for our confidential clients; when sent it must be S256 (``plain`` protects nothing)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri):
        super().validate_code_challenge(grant, redirect_uri)
        data = grant.request.payload.data
        if data.get("code_challenge") and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256.")


class _Grants:
    """What both token grants need: the container, to reach the store and the clock."""

    container: Container  # set on the grant's subclass when the server is made (Authlib instantiates grants)

    def _household(self, household_id: str) -> str | None:
        with self.container.uow() as uow:
            return household_id if uow.households.get(household_id) is not None else None


class CodeGrant(_Grants, grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)

    def save_authorization_code(self, code, request):
        now = self.container.clock()
        data = request.payload.data
        with self.container.uow() as uow:
            uow.oauth.prune_codes(now - timedelta(days=1))
            uow.oauth.add_code(AuthorizationCode(
                code_hash=hash_secret(code), client_id=request.client.id, household_id=request.user,
                grant_id=new_id(), redirect_uri=request.payload.redirect_uri,
                scope=scopes.normalise(request.scope), code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"), created_at=now,
                expires_at=now + service.CODE_TTL))
            uow.commit()

    def query_authorization_code(self, code, client):
        now = self.container.clock()
        with self.container.uow() as uow:
            found = uow.oauth.code(hash_secret(code))
            if found is None or found.client_id != client.id:
                return None
            if found.used_at is not None:
                revoked = uow.oauth.revoke_grant(found.grant_id, now)
                uow.commit()
                log.warning("authorization code of client %s presented again: %d tokens of its grant revoked",
                            client.name, revoked)
                return None
            if found.expires_at <= now:
                return None
            return found

    def delete_authorization_code(self, authorization_code):
        pass  # marked used by save_token, in the transaction that stored the tokens

    def authenticate_user(self, authorization_code):
        return self._household(authorization_code.household_id)


class RefreshGrant(_Grants, grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotated at every use

    def authenticate_refresh_token(self, refresh_token):
        now = self.container.clock()
        with self.container.uow() as uow:
            token = uow.oauth.token_by_refresh(hash_secret(refresh_token), now)
            if token is None:
                return None
            if token.revoked_at is not None:
                revoked = uow.oauth.revoke_grant(token.grant_id, now)
                uow.commit()
                if revoked:
                    log.warning("a used refresh token was presented again: %d tokens of its grant revoked", revoked)
                return None
            if token.refresh_expires_at is None or token.refresh_expires_at <= now:
                return None
            return token

    def authenticate_user(self, refresh_token):
        return self._household(refresh_token.household_id)

    def revoke_old_credential(self, refresh_token):
        pass  # retired by save_token, in the transaction that stored its successor


class Revocation(RevocationEndpoint):
    """RFC 7009. Revoking either token of a link ends the whole link (its grant)."""

    CLIENT_AUTH_METHODS = list(AUTH_METHODS)
    container: Container  # set on the endpoint's subclass when the server is made (Authlib instantiates it)

    def query_token(self, token_string, token_type_hint):
        now = self.container.clock()
        digest = hash_secret(token_string or "")
        with self.container.uow() as uow:
            if token_type_hint == "refresh_token":
                return uow.oauth.token_by_refresh(digest, now) or uow.oauth.token_by_access(digest, now)
            return uow.oauth.token_by_access(digest, now) or uow.oauth.token_by_refresh(digest, now)

    def revoke_token(self, token, request):
        with self.container.uow() as uow:
            uow.oauth.revoke_grant(token.grant_id, self.container.clock())
            uow.commit()


class ReplenishAuthorizationServer(AuthorizationServer):
    def __init__(self, container):
        super().__init__(query_client=self._query_client, save_token=self._save_token)
        self.container = container
        self.scopes_supported = list(scopes.ALL)
        self.register_token_generator("default", service.token_generator())
        for grant, extensions in ((CodeGrant, [S256Challenge(required=False)]), (RefreshGrant, None)):
            self.register_grant(type(grant.__name__, (grant,), {"container": container}), extensions)
        self.register_endpoint(type("Revocation", (Revocation,), {"container": container}))

    def create_oauth2_request(self, request):
        public = (self.container.settings.public_url or "").rstrip("/")
        return _PublicRequest(flask_request, public) if public else super().create_oauth2_request(request)

    def _query_client(self, client_id):
        if not client_id or len(client_id) > 64:
            return None
        with self.container.uow() as uow:
            return uow.oauth.client(client_id)

    def _save_token(self, token, request):
        now = self.container.clock()
        with self.container.uow() as uow:
            if request.authorization_code is not None:
                code = request.authorization_code
                if not uow.oauth.claim_code(code.code_hash, now):
                    raise InvalidGrantError("The code was used already or has expired.")
                grant_id, linked_at = code.grant_id, now
            elif request.refresh_token is not None:
                old = request.refresh_token
                if not uow.oauth.retire_token(old.id, now):
                    raise InvalidGrantError("The refresh token was used already.")
                grant_id, linked_at = old.grant_id, old.linked_at
            else:  # pragma: no cover - only the two grants above are registered
                raise InvalidGrantError()
            service.store_token(uow, token, request.client, request.user, now, grant_id, linked_at)
            uow.commit()


class _PublicRequest(FlaskOAuth2Request):
    """Behind a TLS-terminating proxy: the URL the client used (``REPLENISH_PUBLIC_URL``), not the one forwarded."""

    def __init__(self, request, public_url: str):
        OAuth2Request.__init__(self, method=request.method, uri=public_url + request.full_path.rstrip("?"),
                               headers=request.headers)
        self._request = request
        self.payload = FlaskOAuth2Payload(request)
