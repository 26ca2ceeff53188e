from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession

from core_banking.models import Account

# Checking first, then savings: the order the assistant lists them in.
_TYPE_ORDER = case({"checking": 0, "savings": 1}, value=Account.type, else_=2)


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
