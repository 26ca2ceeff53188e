"""Async engine/session plumbing. The request owns the transaction; services only flush."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from core_banking.settings import Settings


def ensure_sqlite_directory(async_url: str) -> None:
    """The default DATABASE_URL points into var/; SQLite will not create the folder itself."""
    url = make_url(async_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def _enable_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    # SQLite ignores FOREIGN KEY clauses unless asked per connection.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_engine(settings: Settings) -> AsyncEngine:
    url = settings.async_database_url
    ensure_sqlite_directory(url)
    options: dict[str, Any] = {}
    if make_url(url).get_backend_name() == "postgresql":
        options = {
            "pool_size": settings.database_pool_size,
            "max_overflow": settings.database_max_overflow,
        }
    # pool_pre_ping: a pooled connection whose backend died (restart, terminated) is
    # replaced at checkout instead of failing the request.
    engine = create_async_engine(url, echo=settings.database_echo, pool_pre_ping=True, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _enable_sqlite_foreign_keys)
    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: response models are built after commit without lazy reloads.
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            # Commit before the response is sent (scope="function" below), so a failed
            # commit turns into an error response instead of a silently lost write.
            await session.commit()


AsyncSessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]
