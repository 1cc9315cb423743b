"""PreparedStatement and ParkedConnections on a real PostgreSQL: the values a statement writes and reads are the
ones SQLAlchemy's own execution gives, errors come out as SQLAlchemy's, and a connection that broke is not kept."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from decimal import Decimal

from sqlalchemy import (JSON, Boolean, Column, Float, Integer, MetaData, Numeric, String, Table, bindparam,
                        create_engine, insert, select, text, update)
from sqlalchemy.exc import DBAPIError, IntegrityError

from replenish.adapters.device_repository import autocommit_engine
from replenish.adapters.orm import UTCDateTime
from replenish.adapters.pg_prepared import ParkedConnections, PreparedStatement

pytestmark = pytest.mark.integration


@pytest.fixture
def table(pg):
    engine = create_engine(pg)
    metadata = MetaData()
    things = Table(f"things_{uuid.uuid4().hex[:8]}", metadata,
                   Column("id", String(32), primary_key=True), Column("n", Integer), Column("x", Float),
                   Column("at", UTCDateTime), Column("doc", JSON), Column("ok", Boolean), Column("note", String(50)),
                   Column("price", Numeric(10, 2)))
    metadata.create_all(engine)
    fast = autocommit_engine(engine)
    yield engine, fast, things
    metadata.drop_all(engine)
    engine.dispose()


def test_values_written_and_read_are_those_sqlalchemy_gives(table):
    engine, fast, things = table
    add = PreparedStatement(insert(things).values(
        id=bindparam("b_id"), n=bindparam("b_n"), x=bindparam("b_x"), at=bindparam("b_at"), doc=bindparam("b_doc"),
        ok=bindparam("b_ok"), note=bindparam("b_note"), price=bindparam("b_price")).returning(*things.c), fast.dialect)
    at = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    rows = [{"b_id": "a", "b_n": 42, "b_x": 0.1 + 0.2, "b_at": at, "b_doc": [["2026-01-01T00:00:00+00:00", 5.5]],
             "b_ok": True, "b_note": "50% off; it's \"quoted\" 'ünïcode'", "b_price": Decimal("12.99")},
            {"b_id": "b", "b_n": None, "b_x": None, "b_at": None, "b_doc": {"k": None}, "b_ok": False,
             "b_note": None, "b_price": None}]
    parked = ParkedConnections(fast)
    with parked.connection() as conn:
        returned = [add.first(conn, row) for row in rows]
    with engine.connect() as conn:
        read = [tuple(r) for r in conn.execute(select(things).order_by(things.c.id))]
    assert returned == read
    assert returned[0][1:5] == (42, 0.30000000000000004, at.astimezone(timezone.utc),
                                [["2026-01-01T00:00:00+00:00", 5.5]])
    assert returned[0][4] is not None and returned[0][3].tzinfo == timezone.utc
    assert returned[0][-1] == Decimal("12.99")
    assert returned[1] == ("b", None, None, None, {"k": None}, False, None, None)


def test_a_statement_the_server_forgot_is_prepared_again(table):
    engine, fast, things = table
    with engine.begin() as conn:
        conn.execute(insert(things).values(id="a", n=1))
    bump = PreparedStatement(update(things).where(things.c.id == bindparam("b_id")).values(n=things.c.n + 1)
                             .returning(things.c.n), fast.dialect)
    parked = ParkedConnections(fast)
    with parked.connection() as conn:
        assert bump.first(conn, {"b_id": "a"}) == (2,)
        conn.driver_connection.execute("DEALLOCATE ALL")
        assert bump.first(conn, {"b_id": "a"}) == (3,)
        assert bump.first(conn, {"b_id": "nobody"}) is None


def test_errors_are_sqlalchemys_and_a_broken_connection_is_not_kept(table):
    engine, fast, things = table
    add = PreparedStatement(insert(things).values(id=bindparam("b_id")).returning(things.c.id), fast.dialect)
    parked = ParkedConnections(fast, keep=2)
    with parked.connection() as conn:
        assert add.first(conn, {"b_id": "a"}) == ("a",)
        with pytest.raises(IntegrityError):
            add.first(conn, {"b_id": "a"})
        assert add.first(conn, {"b_id": "b"}) == ("b",)  # the same connection goes on after a failed statement
        pid = conn.driver_connection.info.backend_pid
    with parked.connection() as conn:  # the parked one again
        assert conn.driver_connection.info.backend_pid == pid
    with engine.connect() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    with pytest.raises(DBAPIError) as failed:
        with parked.connection() as conn:
            add.first(conn, {"b_id": "c"})
    assert failed.value.connection_invalidated
    with parked.connection() as conn:  # a new connection, not the broken one
        assert conn.driver_connection.info.backend_pid != pid
        assert add.first(conn, {"b_id": "c"}) == ("c",)


def test_parked_connections_stay_within_keep_and_close_with_the_engine(table):
    engine, fast, things = table
    parked = ParkedConnections(fast, keep=2)
    with parked.connection() as a, parked.connection() as b, parked.connection() as c:
        pids = {x.driver_connection.info.backend_pid for x in (a, b, c)}
    assert len(pids) == 3 and len(parked._idle) == 2  # the third went back to the pool
    drivers = [conn.driver_connection for conn in parked._idle]
    fast.dispose()
    assert parked._idle == [] and all(driver.closed for driver in drivers)
