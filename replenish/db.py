"""Engine and session factory, and schema migration (Alembic) for any configured database."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def ensure_sqlite_dir(url: str) -> None:
    if url.startswith("sqlite") and url not in ("sqlite://", "sqlite:///:memory:"):
        path = url.split("sqlite:///", 1)[-1]
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        if url in ("sqlite://", "sqlite:///:memory:"):
            return create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
        ensure_sqlite_dir(url)
        return create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    # No pre-ping: it costs a round trip per transaction. A connection the server dropped fails its
    # statement; workers retry such OperationalErrors and the pool replaces the connection.
    return create_engine(url, pool_size=10, max_overflow=20, pool_recycle=1800)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    from alembic.config import Config
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str, revision: str = "head") -> None:
    from alembic import command
    ensure_sqlite_dir(url)
    command.upgrade(alembic_config(url), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
