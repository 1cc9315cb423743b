"""The dashboard's sign-in state: session cookie, per-session CSRF token, and one-time sign-in links.

A browser is signed in when its (signed, HttpOnly, SameSite=Lax) Flask session names a household. Every POST
to the dashboard carries the session's CSRF token, so another site cannot make a signed-in browser act.
One-time links let a signed-in member sign in another phone: only a hash of the link's secret is kept in
Redis, with a time to live, and taking it is atomic so a link works exactly once.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from functools import wraps

from flask import abort, g, redirect, request, session, url_for

SESSION_LIFETIME = timedelta(days=14)
LINK_TTL = timedelta(minutes=15)
LINK_PREFIX = "dashboard:link:"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


def configure_app(app) -> None:
    """Cookie flags for the session the dashboard relies on (the app's other blueprints use bearer tokens)."""
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    container = app.extensions.get("replenish")
    public_url = getattr(getattr(container, "settings", None), "public_url", "") or ""
    if public_url.startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True
    app.config["PERMANENT_SESSION_LIFETIME"] = SESSION_LIFETIME  # Flask's own default (31 days) is already set


# -- CSRF ---------------------------------------------------------------------------------------------------
def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    """Refuses (400) a state-changing request that does not carry this session's token."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    expected = session.get("csrf")
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    if not expected or not hmac.compare_digest(str(expected), str(sent)):
        abort(400, description="This form has expired or did not come from this site. Reload the page and try again.")


# -- signing in and out -------------------------------------------------------------------------------------
def sign_in(household_id: str, how: str) -> None:
    # A fresh session on sign-in: nothing chosen before (a planted cookie) survives into the signed-in one.
    session.clear()
    session.permanent = True
    session["household_id"] = household_id
    session["via"] = how
    session["csrf"] = secrets.token_urlsafe(32)


def sign_out() -> None:
    session.clear()


def signed_in_household() -> str | None:
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


def issue_link(redis, household_id: str, ttl: timedelta = LINK_TTL) -> str:
    secret = secrets.token_urlsafe(32)
    redis.set(_link_key(secret), household_id.encode(), ex=int(ttl.total_seconds()))
    return secret


def link_is_live(redis, secret: str) -> bool:
    return bool(secret) and len(secret) <= 100 and bool(redis.exists(_link_key(secret)))


def take_link(redis, secret: str) -> str | None:
    """The household the link signs in, once: GET and DELETE in one transaction, so two takers cannot both win."""
    if not secret or len(secret) > 100:
        return None
    pipe = redis.pipeline(transaction=True)
    pipe.get(_link_key(secret))
    pipe.delete(_link_key(secret))
    value, deleted = pipe.execute()
    if value is None or not deleted:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)
