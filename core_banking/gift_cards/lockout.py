"""Failed code lookups, counted per customer and per client IP (table, not Redis).

After GIFT_CARD_LOOKUP_MAX_FAILURES failures within GIFT_CARD_LOOKUP_WINDOW_SECONDS,
by the customer or from the IP, lookups answer 429 until old failures age out.
Failures are written in their own transaction: the request's own one rolls back.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core_banking.models import CodeLookupFailure
from core_banking.models.base import utcnow
from core_banking.problems import TooManyAttempts
from core_banking.settings import Settings


async def ensure_not_locked(
    session: AsyncSession, settings: Settings, customer_id: str, client_ip: str
) -> None:
    since = utcnow() - timedelta(seconds=settings.gift_card_lookup_window_seconds)
    stmt = select(
        func.count().filter(CodeLookupFailure.customer_id == customer_id),
        func.count().filter(CodeLookupFailure.client_ip == client_ip),
    ).where(
        CodeLookupFailure.created_at >= since,
        or_(
            CodeLookupFailure.customer_id == customer_id,
            CodeLookupFailure.client_ip == client_ip,
        ),
    )
    by_customer, by_ip = (await session.execute(stmt)).one()
    if max(by_customer, by_ip) >= settings.gift_card_lookup_max_failures:
        raise TooManyAttempts(
            "Too many wrong gift card codes; try again later",
            headers={"Retry-After": str(settings.gift_card_lookup_window_seconds)},
        )


async def record_failure(
    sessionmaker: async_sessionmaker[AsyncSession], customer_id: str, client_ip: str
) -> None:
    async with sessionmaker() as session, session.begin():
        session.add(CodeLookupFailure(customer_id=customer_id, client_ip=client_ip[:64]))
