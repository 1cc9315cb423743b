"""The few statements a button press or a slot report is made of, run on PostgreSQL with as little CPU around
each round trip as the driver allows.

A press is one statement and a report two; the web tier's CPU per request is what limits how many a server
answers, and around one of these statements SQLAlchemy's execution layer and psycopg's cursor cost two to three
times what libpq itself does. So a ``PreparedStatement`` is a Core statement compiled once, prepared once on each
connection (libpq ``PQprepare``), and run with ``PQexecPrepared`` through psycopg's public libpq wrapper
(``psycopg.pq``), its parameters and results converted by the statement's own column types, in text form.
``ParkedConnections`` keeps a few pooled connections checked out between statements, so that each one does
not pay for a pool checkout and return."""
from __future__ import annotations

import hashlib
import json
import os
import re
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable

from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, Numeric, String, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import TypeDecorator, TypeEngine

_PLACEHOLDER = re.compile(r"%\(([^)]+)\)s")
_PREPARED = "replenish_prepared"  # key, in a pooled connection's info, of the names prepared on it


def _encoder(type_: TypeEngine, dialect) -> Callable[[Any], str | None]:
    """Python value -> PostgreSQL text input, for a parameter of ``type_`` (None is NULL)."""
    if isinstance(type_, TypeDecorator):
        inner = _encoder(type_.impl_instance, dialect)
        return lambda value: inner(type_.process_bind_param(value, dialect))
    if isinstance(type_, DateTime):
        return lambda value: None if value is None else value.isoformat()
    if isinstance(type_, Boolean):
        return lambda value: None if value is None else ("true" if value else "false")
    if isinstance(type_, (Integer, Float, Numeric)):  # str of a float is its repr; of a Decimal, its digits
        return lambda value: None if value is None else str(value)
    if isinstance(type_, JSON):
        return lambda value: json.dumps(value)
    if isinstance(type_, String):
        return lambda value: None if value is None else str(value)
    raise TypeError(f"no text encoding for a {type_!r} parameter")


def _decoder(type_: TypeEngine, dialect) -> Callable[[bytes], Any]:
    """PostgreSQL text output -> Python value, for a column of ``type_`` (NULL is None, not passed here).
    Connections are set to ISO dates in UTC (see ``connect_options``)."""
    if isinstance(type_, TypeDecorator):
        inner = _decoder(type_.impl_instance, dialect)
        return lambda raw: type_.process_result_value(inner(raw), dialect)
    if isinstance(type_, DateTime):
        return lambda raw: datetime.fromisoformat(raw.decode())
    if isinstance(type_, Boolean):
        return lambda raw: raw == b"t"
    if isinstance(type_, Integer):
        return int
    if isinstance(type_, (Float, Numeric)):  # (Float is a Numeric before SQLAlchemy 2.1, not after)
        return (lambda raw: Decimal(raw.decode())) if type_.asdecimal else float
    if isinstance(type_, JSON):
        return json.loads
    if isinstance(type_, String):
        return bytes.decode
    raise TypeError(f"no text decoding for a {type_!r} column")


def connect_options() -> str:
    """libpq ``options`` for connections that run ``PreparedStatement``: the text forms it reads."""
    return "-c DateStyle=ISO -c TimeZone=UTC"


class PreparedStatement:
    """A Core statement (PostgreSQL, psycopg) compiled once, run as a server-side prepared statement."""

    def __init__(self, stmt, dialect):
        compiled = stmt.compile(dialect=dialect)
        binds = {compiled.bind_names[b]: b for b in compiled.binds.values()}
        order: list[str] = []

        def number(match: re.Match) -> str:
            name = match.group(1)
            if name not in order:
                order.append(name)
            return f"${order.index(name) + 1}"

        self.sql = _PLACEHOLDER.sub(number, str(compiled)).replace("%%", "%")
        self.name = ("replenish_" + hashlib.sha1(self.sql.encode()).hexdigest()[:16]).encode()
        self.params = [(name, binds[name].value, _encoder(binds[name].type, dialect)) for name in order]
        self.decoders = [_decoder(column.type, dialect) for column in stmt.exported_columns]
        self.dialect = dialect

    def _values(self, params: dict) -> list[bytes | None]:
        values = []
        for name, default, encode in self.params:
            text = encode(params[name] if name in params else default)
            values.append(None if text is None else text.encode())
        return values

    def first(self, conn, params: dict) -> tuple | None:
        """The first row on ``conn`` (a pooled connection, see ``ParkedConnections``), or None."""
        from psycopg import pq
        values = self._values(params)
        pgconn = conn.driver_connection.pgconn
        try:
            prepared = conn.info.setdefault(_PREPARED, set())
            if self.name not in prepared:
                self._check(pgconn.prepare(self.name, self.sql.encode()), pgconn)
                prepared.add(self.name)
            result = pgconn.exec_prepared(self.name, values)
            if result.status == pq.ExecStatus.FATAL_ERROR and self._sqlstate(result) == "26000":
                # the server forgot it (a pooler, a DISCARD): prepare it again, once
                self._check(pgconn.prepare(self.name, self.sql.encode()), pgconn)
                result = pgconn.exec_prepared(self.name, values)
            self._check(result, pgconn)
        except self.dialect.loaded_dbapi.Error as exc:  # as SQLAlchemy's execution layer would do
            invalidated = pgconn.status != pq.ConnStatus.OK or self.dialect.is_disconnect(
                exc, conn.dbapi_connection, None)
            if invalidated:
                conn.invalidate(exc)
            raise DBAPIError.instance(self.sql, dict(zip((p[0] for p in self.params), values)), exc,
                                      self.dialect.loaded_dbapi.Error, dialect=self.dialect,
                                      connection_invalidated=invalidated) from exc
        if result.ntuples == 0:
            return None
        return tuple(None if (raw := result.get_value(0, i)) is None else decode(raw)
                     for i, decode in enumerate(self.decoders))

    @staticmethod
    def _sqlstate(result) -> str | None:
        from psycopg import pq
        code = result.error_field(pq.DiagnosticField.SQLSTATE)
        return code.decode() if code else None

    def _check(self, result, pgconn) -> None:
        """Raises the psycopg error for a failed result (its SQLSTATE's class)."""
        import psycopg
        from psycopg import pq
        if result.status in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK):
            return
        message = (result.error_message or pgconn.error_message or b"query failed").decode(errors="replace")
        sqlstate = self._sqlstate(result)
        try:
            cls = psycopg.errors.lookup(sqlstate) if sqlstate else psycopg.OperationalError
        except KeyError:
            cls = psycopg.DatabaseError
        raise cls(message.strip())


class ParkedConnections:
    """Up to ``keep`` of an engine's pooled connections, kept checked out between statements. Taking one is a
    list pop (atomic), giving it back an append; when none is parked one is checked out of the pool as usual,
    and one given back when ``keep`` are already parked goes back to the pool. So there are never more
    connections than the pool allows, and threads that come and go strand none. Parked connections are closed
    when the engine is disposed, and forgotten (not closed: they are the parent's) in a forked child."""

    def __init__(self, engine: Engine, keep: int = 4):
        self.engine = engine
        self.keep = keep
        self._idle: list = []
        self._pid = os.getpid()
        event.listen(engine, "engine_disposed", lambda _engine: self.close())

    @contextmanager
    def connection(self):
        if self._pid != os.getpid():
            self._idle, self._pid = [], os.getpid()
        try:
            conn = self._idle.pop()
        except IndexError:
            conn = self.engine.raw_connection()
        healthy = False
        try:
            yield conn
            healthy = True
        finally:
            if healthy and conn.is_valid and len(self._idle) < self.keep:
                self._idle.append(conn)
            else:
                conn.close()

    def close(self) -> None:
        """Closes the parked connections (detached first: the engine's pool they came from is gone); in a forked
        child, only forgets the parent's."""
        if self._pid != os.getpid():
            self._idle, self._pid = [], os.getpid()
        while self._idle:
            try:
                conn = self._idle.pop()
            except IndexError:
                break
            conn.detach()
            conn.close()
