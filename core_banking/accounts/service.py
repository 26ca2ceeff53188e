from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core_banking.accounts.repository import AccountRepository, HistoryFilter
from core_banking.accounts.schemas import Counterparty, TransactionList, TransactionRead
from core_banking.models import Account
from core_banking.pagination import encode_cursor
from core_banking.problems import NotFound
from core_banking.security import Principal


async def list_accounts(session: AsyncSession, customer: Principal) -> Sequence[Account]:
    # Ownership is part of the query, never a filter applied afterwards.
    return await AccountRepository(session).list_for_customer(customer.id)


async def get_account(session: AsyncSession, customer: Principal, account_id: str) -> Account:
    account = await AccountRepository(session).get_for_customer(customer.id, account_id)
    if account is None:
        # Same answer for "someone else's" and "does not exist": ids are not probeable.
        raise NotFound("No such account")
    return account


async def transactions(
    session: AsyncSession,
    customer: Principal,
    account_id: str,
    limit: int,
    after: tuple[datetime, str] | None,
    where: HistoryFilter,
) -> TransactionList:
    account = await get_account(session, customer, account_id)
    rows = await AccountRepository(session).history(account.id, limit + 1, after, where)
    items = [
        TransactionRead(
            id=row.id,
            journal_id=row.journal_id,
            booked_at=row.booked_at,
            kind=row.kind,
            amount_minor=row.amount_minor,
            currency=row.currency,
            balance_after_minor=row.balance_after_minor,
            description=row.description,
            counterparty=Counterparty(name=row.counterparty_name, number=row.counterparty_number),
        )
        for row in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit:
        next_cursor = encode_cursor(items[-1].booked_at, items[-1].id)
    return TransactionList(data=items, next_cursor=next_cursor)
