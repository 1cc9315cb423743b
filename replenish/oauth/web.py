"""The authorization server over HTTP: the consent page (``/oauth/authorize``, in the dashboard's look and
session), the token endpoint, revocation (RFC 7009) and the RFC 8414 metadata document. Plus two routes on the
dashboard's blueprint: the way back from the dashboard's sign-in to the consent page, and "Unlink" in Settings.
"""
from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from pydantic import BaseModel, ConfigDict, Field

from replenish.web import dashboard_security as security
from replenish.web.auth import container
from replenish.web.openapi import OAuthError, operation

from . import scopes, service
from .models import AUTH_METHODS, GRANT_TYPES
from .server import ReplenishAuthorizationServer

_SERVER = "replenish.oauth.server"
bp = Blueprint("oauth", __name__, template_folder="templates")

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
       "form-action 'self'{redirect}; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")


@bp.record_once
def _setup(state) -> None:
    state.app.extensions[_SERVER] = ReplenishAuthorizationServer(state.app.extensions["replenish"])


def server() -> ReplenishAuthorizationServer:
    return current_app.extensions[_SERVER]


@bp.after_request
def _headers(response):
    response.headers.setdefault("Content-Security-Policy", CSP.format(redirect=""))
    response.headers["X-Frame-Options"] = "DENY"  # nobody can frame the consent page to make a click approve
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


# -- consent ------------------------------------------------------------------------------------------------
def _signed_in() -> dict | None:
    household_id = security.signed_in_household()
    if not household_id:
        return None
    with container().uow() as uow:
        household = uow.households.get(household_id)
        if household is not None:
            return {"id": household.id, "name": household.name or household.id}
    security.sign_out()  # deleted since: the session means nothing any more
    return None


def _page(template: str, status: int = 200, **context):
    return render_template(template, page="consent", household=None, **context), status


@bp.route("/oauth/authorize", methods=["GET", "POST"])
def authorize():
    # A POST (Allow or Deny) carries the session's CSRF token: checked before this runs (dashboard_security.protect)
    household = _signed_in()
    try:
        grant = server().get_consent_grant(end_user=household["id"] if household else None)
    except OAuth2Error as error:
        if error.redirect_uri:  # the client and its redirect URI are known: tell the client, as RFC 6749 says
            return server().handle_error_response(None, error)
        # Never redirect to a URI we cannot vouch for: say what is wrong, here.
        return _page("dashboard/error.html", 400, title="This link request cannot be used",
                     message=error.description or error.error)
    if household is None:
        back = url_for("dashboard.oauth_resume")
        if request.query_string:
            back += "?" + request.query_string.decode("utf-8", "replace")
        return redirect(url_for("dashboard.signin", next=back))
    if request.method == "POST" and request.form.get("decision") in ("approve", "deny"):
        approved = request.form["decision"] == "approve"
        return server().create_authorization_response(grant=grant, grant_user=household["id"] if approved else None)
    client = grant.client
    target = urlsplit(grant.redirect_uri)
    body, status = _page("oauth/consent.html", 400 if request.method == "POST" else 200, client=client,
                         signed_in=household, can=scopes.in_words(grant.request.scope),
                         action=request.full_path.rstrip("?"),
                         error="Choose Allow or Deny." if request.method == "POST" else None)
    response = current_app.make_response((body, status))
    # The approval's redirect leaves this site: allow the form to go to the client's registered origin only.
    response.headers["Content-Security-Policy"] = CSP.format(redirect=f" {target.scheme}://{target.netloc}")
    return response


# -- token endpoint, revocation, metadata ---------------------------------------------------------------------
def _client_credential():
    """The client id the token request names (HTTP Basic or the form): public, so safe to count and log."""
    from replenish.web import throttle
    client_id = request.authorization.username if request.authorization else request.form.get("client_id")
    return throttle.keyid_credential(f"oauth:{client_id}") if client_id else None


class TokenRequest(BaseModel):
    """RFC 6749 4.1.3 (authorization_code, with the PKCE code_verifier of RFC 7636) and 6 (refresh_token). The
    client authenticates with HTTP Basic, or with client_id and client_secret here."""
    model_config = ConfigDict(extra="allow")
    grant_type: Literal["authorization_code", "refresh_token"]
    code: str | None = None
    redirect_uri: str | None = None
    code_verifier: str | None = None
    refresh_token: str | None = None
    scope: str | None = None
    client_id: str | None = None
    client_secret: str | None = None


class TokenResponse(BaseModel):
    """RFC 6749 5.1: the access token (and a refresh token)"""
    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str | None = None
    scope: str | None = None


class RevokeRequest(BaseModel):
    """RFC 7009 2.1; the client authenticates as at the token endpoint."""
    model_config = ConfigDict(extra="allow")
    token: str
    token_type_hint: Literal["access_token", "refresh_token"] | None = None
    client_id: str | None = None
    client_secret: str | None = None


class Revoked(BaseModel):
    """Revoked (or not a token of this client's: RFC 7009 answers 200 either way)"""


class Metadata(BaseModel):
    """RFC 8414 authorization server metadata"""
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    revocation_endpoint: str
    scopes_supported: list[str]
    response_types_supported: list[str]
    response_modes_supported: list[str]
    grant_types_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    revocation_endpoint_auth_methods_supported: list[str]
    code_challenge_methods_supported: list[str] = Field(min_length=1)


@bp.post("/oauth/token")
@operation("The token endpoint (RFC 6749)", {200: TokenResponse}, form=TokenRequest, auth="oauth_client",
           errors=(401, 429), error_model=OAuthError, tag="oauth")
def token():
    """The token endpoint; failed client authentication and bad grants are throttled like every other failed
    authentication (per address and per client: 429 with Retry-After)."""
    from replenish.web import throttle
    credential = _client_credential()
    refusal = throttle.over(credential)
    if refusal is not None:
        return jsonify({"error": "slow_down", "error_description": refusal.message()}), 429, {
            "Retry-After": str(refusal.retry_after)}
    response = server().create_token_response()
    if response.status_code in (400, 401):
        error = (response.get_json(silent=True) or {}).get("error", "")
        if error in ("invalid_client", "invalid_grant"):
            throttle.failed("oauth_token", credential, error)
    return response


@bp.post("/oauth/revoke")
@operation("Revoke a token and its whole link (RFC 7009)", {200: Revoked}, form=RevokeRequest,
           auth="oauth_client", errors=(401,), error_model=OAuthError, tag="oauth")
def revoke():
    return server().create_endpoint_response("revocation")


@bp.get("/.well-known/oauth-authorization-server")
@operation("Authorization server metadata (RFC 8414)", {200: Metadata}, auth="none", tag="oauth")
def metadata():
    issuer = (container().settings.public_url or request.url_root).rstrip("/")
    return jsonify({
        "issuer": issuer,
        "authorization_endpoint": issuer + url_for("oauth.authorize"),
        "token_endpoint": issuer + url_for("oauth.token"),
        "revocation_endpoint": issuer + url_for("oauth.revoke"),
        "scopes_supported": list(scopes.ALL),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": list(GRANT_TYPES),
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "code_challenge_methods_supported": ["S256"],
    })


# -- on the dashboard's blueprint -----------------------------------------------------------------------------
def init_dashboard(dashboard_bp) -> None:
    @dashboard_bp.get("/oauth/authorize", endpoint="oauth_resume")
    def oauth_resume():
        """Where the dashboard's sign-in returns to (its ``next`` stays under /dashboard): on to the consent page
        with the same request."""
        target = url_for("oauth.authorize")
        if request.query_string:
            target += "?" + request.query_string.decode("utf-8", "replace")
        return redirect(target)

    @dashboard_bp.post("/settings/linked-apps/<client_id>/unlink", endpoint="unlink_app")
    @security.login_required
    def unlink_app(client_id: str):
        name = service.unlink(container(), g.household_id, client_id[:64])
        if name is None:
            flash("That app is not linked to this household.", "error")
        else:
            flash(f"{name} is unlinked: it can no longer order, cancel or check orders for this household.", "ok")
        return redirect(url_for("dashboard.settings") + "#linked-apps")

    @dashboard_bp.record_once
    def _listing(state) -> None:
        state.app.extensions["replenish_linked_apps"] = service.linked_apps
