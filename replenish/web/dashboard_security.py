"""The dashboard's sign-in state: session cookie, per-session CSRF token, and one-time sign-in links.

A browser is signed in when its session names a household. The session lives in Redis (``sessions``): the
cookie (HttpOnly, SameSite=Lax, Secure unless served on loopback over plain HTTP) carries only a random id, a
session ends 14 days after sign-in whatever happens, at sign-out, and when the household's API token changes.
Every POST to the dashboard and the consent page carries the session's CSRF token (Flask-WTF's ``CSRFProtect``,
checked before any view runs), so another site cannot make a signed-in browser act; signing in starts a new
token. One-time links let a signed-in member sign in another phone: only a hash of the link's secret is kept in
Redis, with a time to live, and taking it is atomic so a link works exactly once.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from functools import wraps

from flask import abort, current_app, g, redirect, request, session, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf

from . import sessions

SESSION_LIFETIME = timedelta(days=14)  # absolute, from sign-in: using the dashboard does not extend it
LINK_TTL = timedelta(minutes=15)
LINK_PREFIX = "dashboard:link:"
CSRF_FIELD = "csrf_token"  # the form field, and the session key of the token it is checked against
CSRF_HEADER = "X-CSRF-Token"
CSRF_REFUSED = "This form has expired or did not come from this site. Reload the page and try again."
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
HSTS = "max-age=31536000"
UNAVAILABLE = "Sign-in is unavailable just now; try again in a minute."


def _settings(app):
    return getattr(app.extensions.get("replenish"), "settings", None)


def _public_https(settings) -> bool:
    return (getattr(settings, "public_url", "") or "").lower().startswith("https://")


def cookie_secure(settings) -> bool:
    """Secure unless the server listens on loopback only and is not published over https (``make run``)."""
    host = (getattr(settings, "host", "") or "").strip().strip("[]").lower()
    return _public_https(settings) or host not in LOOPBACK


def configure_app(app) -> None:
    """Server-side sessions and the cookie flags the dashboard relies on (the app's other blueprints use bearer
    tokens), and the hook that ends a household's sessions when its API token changes."""
    container = app.extensions.get("replenish")
    settings = _settings(app)
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = secure = cookie_secure(settings)
    # __Host-: a sibling subdomain cannot plant or overwrite it (needs Secure, Path=/ and no Domain).
    app.config["SESSION_COOKIE_NAME"] = "__Host-replenish_session" if secure else "replenish_session"
    app.config["SESSION_COOKIE_PATH"] = "/"
    app.config["SESSION_COOKIE_DOMAIN"] = None
    app.config["PERMANENT_SESSION_LIFETIME"] = SESSION_LIFETIME  # Flask's own default (31 days) is already set
    if container is None:
        return
    app.session_interface = sessions.RedisSessionInterface(container.sessions, container.clock)


def strict_transport_security(response):
    """HSTS on every answer when the public URL is https (an ``after_request`` of the app)."""
    if _public_https(_settings(current_app)):
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


# -- CSRF ---------------------------------------------------------------------------------------------------
def protect(app, token_authenticated=()) -> CSRFProtect:
    """CSRF protection for every POST, PUT, PATCH and DELETE of the app (a route added later is protected too),
    except the blueprints and views in ``token_authenticated``: they never read the session cookie, a bearer
    token or a signature authenticates each of their requests, so another site cannot borrow a browser's.

    A refused request gets the dashboard's own page (400, "Nothing was changed") before its view runs."""
    app.config["WTF_CSRF_FIELD_NAME"] = CSRF_FIELD
    app.config["WTF_CSRF_HEADERS"] = [CSRF_HEADER, "X-CSRFToken"]
    # The token lasts as long as the session that keeps it (14 days at most, ended at sign-out or a token
    # change), as a page left open is still to be used; Flask-WTF's own default is an hour.
    app.config["WTF_CSRF_TIME_LIMIT"] = None
    # Flask-WTF's extra check of the Referer on https: our pages send none (Referrer-Policy: no-referrer, so a
    # one-time link's secret never leaves in one), and the session's token already proves the form is ours.
    app.config["WTF_CSRF_SSL_STRICT"] = False
    csrf = CSRFProtect(app)
    for exempt in token_authenticated:
        csrf.exempt(exempt)
    app.register_error_handler(CSRFError, _csrf_refused)
    return csrf


def _csrf_refused(exc: CSRFError):  # Flask-WTF logs why (flask_wtf.csrf, INFO)
    from .dashboard import error_page
    return error_page(exc, title="Nothing was changed", message=CSRF_REFUSED)


# -- signing in and out -------------------------------------------------------------------------------------
def _interface():
    interface = current_app.session_interface
    if not isinstance(interface, sessions.RedisSessionInterface):
        raise RuntimeError("the dashboard needs its server-side sessions (dashboard_security.configure_app)")
    return interface


def sign_in(household_id: str, how: str, member_id: str | None = None) -> None:
    # A fresh session on sign-in, under a new id written to Redis now: nothing chosen before (a planted
    # cookie) survives into the signed-in one, and a store that cannot keep it is a 503, not a half sign-in.
    session.clear()
    session.permanent = True
    session["household_id"] = household_id
    session["via"] = how
    if member_id:  # a member's own link: the dashboard shows and allows what that member may (replenish.members)
        session["member_id"] = member_id
    g.pop(CSRF_FIELD, None)  # the token of this request's page was the old session's: a new one from here
    generate_csrf()
    try:
        _interface().start(session)
    except sessions.store_errors():
        abort(503, description=UNAVAILABLE)


def sign_out() -> None:
    """Deletes the session now: a copy of the cookie stops working at once."""
    try:
        _interface().end(session)
    except sessions.store_errors():
        abort(503, description="Signing out is unavailable just now; try again in a minute.")


def signed_in_household() -> str | None:
    """The signed-in household, or None; a 503 when the session store could not be read (never a guess)."""
    if getattr(session, "unavailable", False) and request.endpoint != "dashboard.static":
        abort(503, description=UNAVAILABLE)
    return session.get("household_id")


def login_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        household_id = signed_in_household()
        if household_id is None:
            if request.path.endswith(".json") or request.accept_mimetypes.best == "application/json":
                abort(401, description="Sign in to the dashboard first.")
            return redirect(url_for("dashboard.signin",
                                    next=request.full_path.rstrip("?") if request.method == "GET" else None))
        g.household_id = household_id
        g.member_id = session.get("member_id")  # None: the household token's holder (the owner)
        return view(*args, **kwargs)
    return wrapper


def safe_next(target: str | None) -> str | None:
    """Only a path on this site, so a crafted sign-in link cannot send people elsewhere."""
    if target and target.startswith("/dashboard") and not target.startswith("//") and "\\" not in target:
        return target.rstrip("?")
    return None


# -- one-time links -----------------------------------------------------------------------------------------
def _link_key(secret: str) -> str:
    return LINK_PREFIX + hashlib.sha256(secret.encode()).hexdigest()


def _state_key(secret: str) -> str:
    return "dashboard:linkstate:" + hashlib.sha256(secret.encode()).hexdigest()


LINK_MEMORY = timedelta(days=7)  # how long a link is remembered after it was issued, to say why it stopped working


MEMBER_SEPARATOR = "\x1f"


def issue_link(redis, household_id: str, ttl: timedelta = LINK_TTL, member_id: str | None = None) -> str:
    """A link that signs in the household, as ``member_id`` when given (that member's own link)."""
    secret = secrets.token_urlsafe(32)
    key = _link_key(secret)
    value = household_id + (MEMBER_SEPARATOR + member_id if member_id else "")
    pipe = redis.pipeline(transaction=True)
    pipe.set(key, value.encode(), ex=int(ttl.total_seconds()))
    pipe.set(_state_key(secret), b"issued", ex=int(LINK_MEMORY.total_seconds()))
    pipe.execute()
    return secret


def link_state(redis, secret: str) -> str:
    """``live`` (it signs in, once), ``used`` (it already did), ``expired`` (its minutes ran out) or ``unknown``
    (never issued here, or issued over a week ago): what the page tells the person holding it."""
    if not secret or len(secret) > 100:
        return "unknown"
    key = _link_key(secret)
    pipe = redis.pipeline(transaction=False)
    pipe.exists(key)
    pipe.get(_state_key(secret))
    live, state = pipe.execute()
    if live:
        return "live"
    state = state.decode() if isinstance(state, bytes) else state
    return {"used": "used", "issued": "expired"}.get(state or "", "unknown")


def link_is_live(redis, secret: str) -> bool:
    return link_state(redis, secret) == "live"


def take_link(redis, secret: str) -> str | None:
    """The household the link signs in, once (see ``take_member_link``)."""
    taken = take_member_link(redis, secret)
    return taken[0] if taken else None


def take_member_link(redis, secret: str) -> tuple[str, str | None] | None:
    """The household and member (None: the household itself) the link signs in, once: GET and DELETE in one
    transaction, so two takers cannot both win; the link is remembered as used."""
    if not secret or len(secret) > 100:
        return None
    key = _link_key(secret)
    pipe = redis.pipeline(transaction=True)
    pipe.get(key)
    pipe.delete(key)
    value, deleted = pipe.execute()
    if value is None or not deleted:
        return None
    redis.set(_state_key(secret), b"used", ex=int(LINK_MEMORY.total_seconds()))
    value = value.decode() if isinstance(value, bytes) else str(value)
    household_id, _, member_id = value.partition(MEMBER_SEPARATOR)
    return household_id, member_id or None
