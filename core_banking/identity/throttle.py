"""Failed password checks, counted per username and per client address (table, so every
core_banking process shares it).

Callers may rely on: ``ensure_not_locked`` raises ``TooManyAttempts`` (429,
``Retry-After``) once LOGIN_MAX_FAILURES_PER_ACCOUNT failures for the username, or
LOGIN_MAX_FAILURES_PER_IP from the address, fall within the last LOGIN_WINDOW_SECONDS;
it then refuses the right password too. Failures age out one by one (a sliding
window), so the lock lifts at the latest one window after the last counted failure.
``record_failure`` writes in its own transaction (the request's own one rolls back).
The address is what the gateway saw (``client_ip`` in the body, trusted because only
a holder of the service token can call), or the peer when the body has none.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core_banking.models import LoginFailure
from core_banking.models.base import utcnow
from core_banking.problems import TooManyAttempts
from core_banking.settings import Settings


def username_hash(username: str) -> str:
    return hashlib.sha256(username.strip().lower().encode()).hexdigest()


async def ensure_not_locked(
    session: AsyncSession, settings: Settings, username: str, client_ip: str
) -> None:
    since = utcnow() - timedelta(seconds=settings.login_window_seconds)
    account = username_hash(username)
    stmt = select(
        func.count().filter(LoginFailure.username_hash == account),
        func.count().filter(LoginFailure.client_ip == client_ip),
    ).where(
        LoginFailure.created_at >= since,
        or_(LoginFailure.username_hash == account, LoginFailure.client_ip == client_ip),
    )
    by_account, by_ip = (await session.execute(stmt)).one()
    if (
        by_account >= settings.login_max_failures_per_account
        or by_ip >= settings.login_max_failures_per_ip
    ):
        raise TooManyAttempts(
            "Too many failed logins; try again later",
            headers={"Retry-After": str(settings.login_window_seconds)},
        )


async def record_failure(
    sessionmaker: async_sessionmaker[AsyncSession], username: str, client_ip: str
) -> None:
    async with sessionmaker() as session, session.begin():
        session.add(LoginFailure(username_hash=username_hash(username), client_ip=client_ip[:64]))
