"""Alembic environment of the job store: online migrations only.

The URL comes from ``config.attributes["url"]`` (set by :func:`api.storage.migrate`),
``-x url=...`` on the command line, or the service settings. On PostgreSQL a
transaction-scoped advisory lock serialises servers and workers that start at the
same time against a fresh database.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool, text

from api.models import Base

#: Any fixed 64-bit number: the advisory lock key of rdplan's migrations.
MIGRATION_LOCK = 0x7264706C616E

config = context.config


def _url() -> str:
    url = config.attributes.get("url") or context.get_x_argument(as_dictionary=True).get("url")
    if url:
        return str(url)
    from api.settings import Settings

    return Settings().database_url


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is None:
        connectable = create_engine(_url(), poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(
            connection=connection, target_metadata=Base.metadata, render_as_batch=True
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
                )
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("rdplan migrations run online only: pass a database URL")
run_migrations_online()
