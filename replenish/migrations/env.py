"""Alembic environment: the URL comes from the caller (``replenish migrate``) or from the settings."""
from alembic import context
from sqlalchemy import engine_from_config, pool

from replenish.adapters.orm import metadata
from replenish.config import Settings
from replenish.devices.adapters import orm as _device_tables  # noqa: F401  (its tables, on the same metadata)
from replenish.lists import adapters as _list_tables  # noqa: F401  (likewise)
from replenish.members import adapters as _member_tables  # noqa: F401  (likewise)
from replenish.oauth import tables as _oauth_tables  # noqa: F401  (likewise)
from replenish.pantry import adapters as _stock_tables  # noqa: F401  (likewise)

config = context.config
url = config.get_main_option("sqlalchemy.url") or Settings.from_env().database_url


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is None:
        connectable = engine_from_config({"sqlalchemy.url": url}, prefix="sqlalchemy.", poolclass=pool.NullPool)
        with connectable.connect() as connection:
            _run(connection)
    else:
        _run(connectable)


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
