from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, case, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from core_banking.models import Account, Journal, LedgerEntry

# Checking first, then savings: the order the assistant lists them in.
_TYPE_ORDER = case({"checking": 0, "savings": 1}, value=Account.type, else_=2)


@dataclass(frozen=True)
class HistoryFilter:
    booked_from: datetime | None = None  # inclusive
    booked_to: datetime | None = None  # exclusive
    text: str | None = None
    min_amount_minor: int | None = None  # on the magnitude: 50 matches +50 and -50
    max_amount_minor: int | None = None


def _like_pattern(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def list_for_customer(self, customer_id: str) -> Sequence[Account]:
        stmt = (
            select(Account)
            .where(Account.customer_id == customer_id)
            .order_by(_TYPE_ORDER, Account.created_at, Account.id)
        )
        return (await self.session.scalars(stmt)).all()

    async def get_for_customer(self, customer_id: str, account_id: str) -> Account | None:
        stmt = select(Account).where(Account.id == account_id, Account.customer_id == customer_id)
        return await self.session.scalar(stmt)

    async def history(
        self,
        account_id: str,
        limit: int,
        after: tuple[datetime, str] | None,
        where: HistoryFilter,
    ) -> Sequence[Row[LedgerEntry, str, str]]:
        stmt = (
            select(LedgerEntry, Journal.kind, Journal.description)
            .join(Journal, Journal.id == LedgerEntry.journal_id)
            .where(LedgerEntry.account_id == account_id)
        )
        if after is not None:
            stmt = stmt.where(tuple_(LedgerEntry.booked_at, LedgerEntry.id) < tuple_(*after))
        if where.booked_from is not None:
            stmt = stmt.where(LedgerEntry.booked_at >= where.booked_from)
        if where.booked_to is not None:
            stmt = stmt.where(LedgerEntry.booked_at < where.booked_to)
        if where.text:
            pattern = _like_pattern(where.text)
            stmt = stmt.where(
                or_(
                    *(
                        func.lower(func.coalesce(column, "")).like(pattern, escape="\\")
                        for column in (
                            Journal.description,
                            LedgerEntry.counterparty_name,
                            LedgerEntry.counterparty_number,
                        )
                    )
                )
            )
        if where.min_amount_minor is not None:
            stmt = stmt.where(func.abs(LedgerEntry.amount_minor) >= where.min_amount_minor)
        if where.max_amount_minor is not None:
            stmt = stmt.where(func.abs(LedgerEntry.amount_minor) <= where.max_amount_minor)
        stmt = stmt.order_by(LedgerEntry.booked_at.desc(), LedgerEntry.id.desc()).limit(limit)
        return (await self.session.execute(stmt)).all()
