"""Server-side dashboard sessions: the cookie carries a random session id, the session lives in Redis.

A record is ``{"created_at", "household_id", "data"}`` under ``dashboard:session:<sha256 of the id>`` (a copy of
Redis holds no usable cookie). Its lifetime is absolute, counted from sign-in (14 days; a visitor who has not
signed in: 2 hours): using the dashboard does not extend it. Signing out deletes the record, so a copied cookie
stops working at once; each household keeps a set of its session records, so that a change of its API token
ends all of them (``SessionStore.end_household``, which ``dashboard_security.configure_app`` hangs on the core's
token hook).

Writes of an existing session only update a record that still exists (``SET ... XX``): a request that was in
flight while the session was ended cannot bring it back. When Redis cannot be read the session is marked
``unavailable`` and the dashboard refuses signed-in pages (503) rather than guessing.
"""
from __future__ import annotations

import hashlib
import logging
import math
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TypedDict

from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

if TYPE_CHECKING:
    from flask import Flask, Request, Response

log = logging.getLogger(__name__)

SESSION_PREFIX = "dashboard:session:"
HOUSEHOLD_PREFIX = "dashboard:sessions-of:"
ANONYMOUS_LIFETIME = timedelta(hours=2)  # a visitor's CSRF token before sign-in; cheap to lose, cheap to keep
MAX_SID = 100


def _key(digest: str) -> str:
    return SESSION_PREFIX + digest


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8", "surrogateescape")).hexdigest()


def store_errors() -> tuple[type[BaseException], ...]:
    import redis
    return (redis.RedisError, OSError)


class SessionStore:
    """The records, in Redis (no Flask here: the token hook calls ``end_household`` from any process)."""

    serializer = TaggedJSONSerializer()  # Flask's own: keeps tuples, bytes, datetimes of session data

    def __init__(self, redis, lifetime: timedelta, anonymous_lifetime: timedelta = ANONYMOUS_LIFETIME):
        self.redis = redis
        self.lifetime = lifetime
        self.anonymous_lifetime = anonymous_lifetime

    def lifetime_of(self, household_id: str | None) -> timedelta:
        return self.lifetime if household_id else self.anonymous_lifetime

    def load(self, sid: str) -> dict | None:
        raw = self.redis.get(_key(_digest(sid)))
        if raw is None:
            return None
        try:
            record = self.serializer.loads(raw.decode() if isinstance(raw, bytes) else raw)
        except Exception:  # noqa: BLE001 - a record we cannot read is no session
            log.warning("unreadable dashboard session record dropped")
            return None
        return record if isinstance(record, dict) and isinstance(record.get("data"), dict) else None

    def create(self, data: dict, now: datetime) -> tuple[str, int]:
        """A new session id for ``data``, written now; (id, seconds it lasts)."""
        sid = secrets.token_urlsafe(32)
        household_id = data.get("household_id")
        record = {"created_at": now.timestamp(), "household_id": household_id, "data": dict(data)}
        ttl = max(1, int(self.lifetime_of(household_id).total_seconds()))
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(_key(_digest(sid)), self.serializer.dumps(record), ex=ttl, nx=True)
        if household_id:
            pipe.sadd(HOUSEHOLD_PREFIX + household_id, _digest(sid))
            pipe.expire(HOUSEHOLD_PREFIX + household_id, int(self.lifetime.total_seconds()))
        pipe.execute()
        return sid, ttl

    def update(self, sid: str, created_at: float, data: dict, now: datetime) -> bool:
        """Rewrites an existing record with the time it has left; False when it is gone (ended or expired)."""
        household_id = data.get("household_id")
        ends = datetime.fromtimestamp(created_at, UTC) + self.lifetime_of(household_id)
        ttl = int((ends - now).total_seconds())
        if ttl <= 0:
            return False
        record = {"created_at": created_at, "household_id": household_id, "data": dict(data)}
        return bool(self.redis.set(_key(_digest(sid)), self.serializer.dumps(record), ex=ttl, xx=True))

    def end(self, sid: str, household_id: str | None = None) -> None:
        digest = _digest(sid)
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(_key(digest))
        if household_id:
            pipe.srem(HOUSEHOLD_PREFIX + household_id, digest)
        pipe.execute()

    def end_household(self, household_id: str) -> int:
        """Ends every session of the household; how many there were. Taking the set and deleting it is one
        transaction, so a session started meanwhile lands in a new set rather than being forgotten."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.smembers(HOUSEHOLD_PREFIX + household_id)
        pipe.delete(HOUSEHOLD_PREFIX + household_id)
        members, _ = pipe.execute()
        digests = [m.decode() if isinstance(m, bytes) else str(m) for m in members or ()]
        if digests:
            self.redis.delete(*[_key(d) for d in digests])
        return len(digests)


class ServerSession(CallbackDict, SessionMixin):
    """The session Flask hands to views: a dict that knows its id, its start and what happened to it."""

    def __init__(self, initial=None, sid: str | None = None, created_at: float | None = None,
                 unavailable: bool = False):
        def on_update(self) -> None:
            self.modified = True
        super().__init__(initial, on_update)
        self.sid = sid
        self.created_at = created_at
        self.new = sid is None
        self.modified = False
        self.unavailable = unavailable  # Redis could not be read: nobody is signed in, and nobody may sign in
        self.ended = False  # signed out: the record is gone, the cookie goes too
        self.started_max_age: int | None = None  # set by ``start``: the cookie to send lasts this many seconds


class _CookieFlags(TypedDict):
    domain: str | None
    path: str
    secure: bool
    samesite: str | None
    httponly: bool


class RedisSessionInterface(SessionInterface):
    """Flask's session interface over ``SessionStore``: views keep using ``session[...]`` as before."""

    def __init__(self, store: SessionStore, clock: Callable[[], datetime]):
        self.store = store
        self.clock = clock
        self._warned_at = -math.inf

    # -- Flask's interface --------------------------------------------------------------------------------
    def open_session(self, app: Flask, request: Request) -> ServerSession:
        sid = request.cookies.get(self.get_cookie_name(app))
        if not sid or len(sid) > MAX_SID:
            return ServerSession()  # no Redis read for a request without our cookie (the API, devices)
        try:
            record = self.store.load(sid)
        except store_errors():
            now = time.monotonic()
            if now - self._warned_at >= 60:  # once a minute, not once a request
                self._warned_at = now
                log.warning("dashboard sessions unavailable (Redis); signed-in pages answer 503", exc_info=True)
            return ServerSession(unavailable=True)
        if record is None:
            return ServerSession()
        created_at = float(record.get("created_at") or 0)
        started = datetime.fromtimestamp(created_at, UTC)
        if self.clock() - started >= self.store.lifetime_of(record.get("household_id")):
            self._forget(sid, record.get("household_id"))  # past its absolute lifetime: Redis may lag our clock
            return ServerSession()
        return ServerSession(record["data"], sid=sid, created_at=created_at)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not isinstance(session, ServerSession):  # never: Flask hands back what open_session made
            return
        if session.sid is not None or session.ended or session.unavailable:
            response.vary.add("Cookie")  # the answer depends on who is signed in
        if session.unavailable:
            return
        name, domain, path = self.get_cookie_name(app), self.get_cookie_domain(app), self.get_cookie_path(app)
        flags: _CookieFlags = {"domain": domain, "path": path, "secure": self.get_cookie_secure(app),
                 "samesite": self.get_cookie_samesite(app), "httponly": self.get_cookie_httponly(app)}
        if session.ended and not session:
            response.delete_cookie(name, **flags)
            return
        # The cookie's end is relative (Max-Age), so a browser whose clock differs from ours keeps it as long.
        # signed in during this request (``start``): the record is already written
        if session.started_max_age is not None and session.sid is not None:
            if session.modified:
                self._update(session)
            response.set_cookie(name, session.sid, max_age=session.started_max_age, **flags)
            return
        if not session.modified:
            return
        if session.sid is None:
            if not session:
                return
            try:
                session.sid, max_age = self.store.create(dict(session), self.clock())
            except store_errors():
                log.warning("could not keep a dashboard session (Redis)", exc_info=True)
                return
            response.set_cookie(name, session.sid, max_age=max_age, **flags)
            return
        self._update(session)

    # -- what sign-in and sign-out call -------------------------------------------------------------------
    def start(self, session: ServerSession) -> None:
        """A new session id for what ``session`` now holds (a sign-in), written to Redis before the response:
        the id a visitor had before signing in (perhaps planted) ends here. Raises when Redis cannot take it."""
        old, now = session.sid, self.clock()
        session.sid, session.started_max_age = self.store.create(dict(session), now)
        session.created_at = now.timestamp()
        session.modified = session.ended = False
        if old:
            self._forget(old, None)

    def end(self, session: ServerSession) -> None:
        """Deletes the session's record now (a sign-out). Raises when Redis cannot delete it."""
        if session.sid:
            self.store.end(session.sid, session.get("household_id"))
        session.clear()
        session.sid = session.created_at = session.started_max_age = None
        session.ended = True

    # -- helpers -----------------------------------------------------------------------------------------
    def _update(self, session: ServerSession) -> None:
        if session.sid is None:  # never written: nothing to update
            return
        try:
            if not self.store.update(session.sid, session.created_at or 0.0, dict(session), self.clock()):
                log.info("dashboard session ended while a request was using it; its changes are dropped")
        except store_errors():
            log.warning("could not save a dashboard session (Redis)", exc_info=True)

    def _forget(self, sid: str, household_id: str | None) -> None:
        try:
            self.store.end(sid, household_id)
        except store_errors():
            log.warning("could not delete a dashboard session (Redis)", exc_info=True)
