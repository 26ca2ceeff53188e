"""Alembic environment: async engine, or a connection handed in by core_banking.migrate."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from core_banking.db import create_engine
from core_banking.models import Base
from core_banking.settings import get_settings

config = context.config
target_metadata = Base.metadata


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_own_engine() -> None:
    engine = create_engine(get_settings())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_configure_and_run)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
    else:
        asyncio.run(_run_with_own_engine())


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; use core_banking.migrate")
run_migrations_online()
