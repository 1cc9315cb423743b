"""Real PostgreSQL, Redis, RabbitMQ and Celery worker processes."""
from __future__ import annotations

import os
import signal
import uuid

import pytest
from sqlalchemy import create_engine, text

from replenish.adapters import orm
from replenish.config import Settings
from replenish.db import migrate
from replenish.devices.adapters import orm as _device_tables  # noqa: F401  (its tables, on the same metadata)
from replenish.lists import adapters as _list_tables  # noqa: F401  (likewise)
from replenish.members import adapters as _member_tables  # noqa: F401  (likewise)
from replenish.pantry import adapters as _stock_tables  # noqa: F401  (likewise)

from .services import (
    PG_ADMIN_DB,
    PG_HOST,
    PG_PORT,
    PG_USER,
    RABBIT_HOST,
    RABBIT_PORT,
    REDIS_HOST,
    REDIS_PORT,
    REDIS_TEST_DB,
    Process,
    replenish_bin,
    require,
)

pytestmark = pytest.mark.integration


def _admin_engine():
    return create_engine(f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{PG_ADMIN_DB}",
                         isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def pg_url():
    """A scratch database for this test session, migrated with Alembic, dropped at the end."""
    require("PostgreSQL", PG_HOST, PG_PORT)
    name = f"rpl_it_{uuid.uuid4().hex[:10]}"
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    migrate(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture
def pg(pg_url):
    """The scratch database, emptied before each test (worker processes must see committed data)."""
    engine = create_engine(pg_url)
    tables = ", ".join(f'"{t.name}"' for t in orm.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return pg_url


@pytest.fixture
def redis_url():
    require("Redis", REDIS_HOST, REDIS_PORT)
    import redis
    url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_TEST_DB}"
    redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture
def rabbit_url():
    require("RabbitMQ", RABBIT_HOST, RABBIT_PORT)
    return f"amqp://guest:guest@{RABBIT_HOST}:{RABBIT_PORT}//"


@pytest.fixture
def service_env(tmp_path):
    """Environment for child processes: the test's own queue name, so runs never share messages."""
    def build(**values):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "BROKER_URL"))}
        env.update({"REPLENISH_VAR_DIR": str(tmp_path / "var"), "CELERY_QUEUE": f"it-{uuid.uuid4().hex[:8]}",
                    "REPLENISH_EMBEDDED_WORKER": "0", "PYTHONUNBUFFERED": "1"})
        env.update({k: str(v) for k, v in values.items()})
        return env
    return build


@pytest.fixture
def processes(tmp_path):
    started: list[Process] = []

    def start(kind: str, env: dict, *extra: str) -> Process:
        args = [replenish_bin(), kind, *extra]
        process = Process(args, env, tmp_path / f"{kind}-{len(started)}.log")
        started.append(process)
        return process

    yield start
    for process in started:
        if process.popen.poll() is None:
            process.kill(signal.SIGTERM)


@pytest.fixture
def pg_container(pg, redis_url, service_env):
    """The app's container in this process on the scratch database and Redis, with the test catalog and a
    recording queue (nothing is sent to a retailer): for concurrency tests that drive the bus directly."""
    from replenish.bootstrap import bootstrap
    from tests.conftest import PRODUCTS
    from tests.doubles import RecordingQueue
    made = bootstrap(Settings.from_env(service_env(DATABASE_URL=pg, REDIS_URL=redis_url, BROKER_URL="memory://")),
                     queue=RecordingQueue())
    with made.uow() as uow:
        uow.products.upsert_many(PRODUCTS)
        uow.session.commit()
    yield made
    made.engine.dispose()


def settings_from(env: dict) -> Settings:
    return Settings.from_env(env)
