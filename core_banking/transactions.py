"""Run a money-moving unit of work as one transaction, retried when the database says so.

PostgreSQL may abort a transaction with a serialization failure (40001) or a deadlock
(40P01); a concurrent first use of an Idempotency-Key (or of a lazily created system
account) ends in a unique violation (23505) that a fresh attempt resolves by finding the
other's row; a connection may be lost mid-transaction (backend terminated, server
restart). The whole transaction is retried with bounded, jittered exponential backoff
(see core_banking.dberrors for why that is safe). SQLite has one writer at a time;
"database is locked" is retried the same way.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core_banking.dberrors import is_retryable
from core_banking.problems import ServiceUnavailable

T = TypeVar("T")
BASE_DELAY_SECONDS = 0.01
MAX_DELAY_SECONDS = 0.5
log = logging.getLogger(__name__)


class TransactionRunner:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], max_attempts: int) -> None:
        self.sessionmaker = sessionmaker
        self.max_attempts = max_attempts

    async def run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """`work` may be called several times; it must do nothing outside the session."""
        for attempt in range(1, self.max_attempts + 1):
            async with self.sessionmaker() as session:
                try:
                    async with session.begin():
                        return await work(session)
                except DBAPIError as exc:
                    if not is_retryable(exc):
                        raise
                    log.info("transaction attempt %d failed (%s), retrying", attempt, exc.orig)
            if attempt < self.max_attempts:
                delay = min(MAX_DELAY_SECONDS, BASE_DELAY_SECONDS * 2**attempt)
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311 - jitter
        raise ServiceUnavailable("The system is busy; please retry", headers={"Retry-After": "1"})


async def get_runner(request: Request) -> TransactionRunner:
    # async, not def: no thread-pool hop per request (security.get_settings_dep).
    return TransactionRunner(
        request.app.state.sessionmaker, request.app.state.settings.transaction_max_attempts
    )


Transactions = Annotated[TransactionRunner, Depends(get_runner)]
