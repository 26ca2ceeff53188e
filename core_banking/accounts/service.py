from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from core_banking.accounts.repository import AccountRepository
from core_banking.models import Account
from core_banking.security import Principal


async def list_accounts(session: AsyncSession, customer: Principal) -> Sequence[Account]:
    # Ownership is part of the query, never a filter applied afterwards.
    return await AccountRepository(session).list_for_customer(customer.id)
