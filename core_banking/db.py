"""Async engine/session plumbing. The request owns the transaction; services only flush."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
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
    engine = create_async_engine(url, echo=settings.database_echo, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _enable_sqlite_foreign_keys)
    else:
        ping_when_idle(engine, settings.database_idle_ping_seconds)
    return engine


def ping_when_idle(engine: AsyncEngine, idle_seconds: float) -> None:
    """A pooled connection whose backend died (server restart, terminated backend) is
    replaced at checkout instead of failing a request -- what `pool_pre_ping` does, but
    only for a connection idle at least `idle_seconds`: a dead connection is one that
    sat in the pool while the server went away, and pinging every checkout cost a round
    trip per transfer (README "Performance"). A connection that dies between two busy
    requests fails its transaction, which `transactions.TransactionRunner` retries on a
    fresh connection (the pool is invalidated on a disconnect)."""
    pool = engine.sync_engine.pool
    dialect = engine.dialect

    def stamp(_dbapi_connection: Any, record: Any, *_: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is not None and time.monotonic() - since < idle_seconds:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool discards this connection and checks out another (at most twice).
            raise DisconnectionError(f"idle connection failed its ping: {exc}") from exc

    event.listen(pool, "connect", stamp)
    event.listen(pool, "checkin", stamp)
    event.listen(pool, "checkout", checkout)


_IDLE_SINCE = "idle_since"


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
