from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from core_banking.models import Account, Customer, Journal, LedgerEntry, Transfer, TransferKind

OUTGOING_STATUSES = ("completed", "requires_confirmation")


class TransferRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def owned_account(self, customer_id: str, account_id: str) -> Account | None:
        stmt = select(Account).where(Account.id == account_id, Account.customer_id == customer_id)
        return await self.session.scalar(stmt)

    async def account_by_number(self, number: str) -> Account | None:
        return await self.session.scalar(select(Account).where(Account.number == number))

    async def customer(self, customer_id: str) -> Customer | None:
        return await self.session.get(Customer, customer_id)

    async def lock_customer(self, customer_id: str) -> None:
        # Serialises one customer's transfers so the daily limit and velocity counts
        # cannot be raced. Always taken before any account lock (see service).
        stmt = select(Customer.id).where(Customer.id == customer_id).with_for_update(key_share=True)
        await self.session.execute(stmt)

    async def get_owned(self, customer_id: str, transfer_id: str, lock: bool) -> Transfer | None:
        stmt = select(Transfer).where(
            Transfer.id == transfer_id, Transfer.customer_id == customer_id
        )
        if lock:
            stmt = stmt.with_for_update(key_share=True).execution_options(populate_existing=True)
        return await self.session.scalar(stmt)

    async def page(
        self, customer_id: str, limit: int, after: tuple[datetime, str] | None
    ) -> Sequence[Transfer]:
        stmt = select(Transfer).where(Transfer.customer_id == customer_id)
        if after is not None:
            stmt = stmt.where(tuple_(Transfer.created_at, Transfer.id) < tuple_(*after))
        stmt = stmt.order_by(Transfer.created_at.desc(), Transfer.id.desc()).limit(limit)
        return (await self.session.scalars(stmt)).all()

    async def outgoing_total_since(self, customer_id: str, since: datetime) -> int:
        stmt = select(func.coalesce(func.sum(Transfer.amount_minor), 0)).where(
            Transfer.customer_id == customer_id,
            Transfer.kind != TransferKind.own.value,
            Transfer.status.in_(OUTGOING_STATUSES),
            Transfer.created_at >= since,
        )
        return int(await self.session.scalar(stmt) or 0)

    async def count_since(self, customer_id: str, since: datetime) -> int:
        stmt = select(func.count()).where(
            Transfer.customer_id == customer_id,
            Transfer.kind != TransferKind.own.value,
            Transfer.created_at >= since,
        )
        return int(await self.session.scalar(stmt) or 0)

    def _customer_payments(self, customer_id: str) -> Select[LedgerEntry]:
        # Money the customer sent to someone else: kind "transfer" journals (own-account
        # moves are kind "own_transfer"), including pre-seeded history.
        return (
            select(LedgerEntry)
            .join(Account, Account.id == LedgerEntry.account_id)
            .join(Journal, Journal.id == LedgerEntry.journal_id)
            .where(
                Account.customer_id == customer_id,
                LedgerEntry.amount_minor < 0,
                Journal.kind == "transfer",
            )
        )

    async def has_paid(self, customer_id: str, number: str) -> bool:
        payments = self._customer_payments(customer_id).subquery()
        stmt = (
            select(func.count())
            .select_from(payments)
            .where(payments.c.counterparty_number == number)
        )
        return bool(await self.session.scalar(stmt))

    async def largest_payment(self, customer_id: str) -> int:
        payments = self._customer_payments(customer_id).subquery()
        stmt = select(func.coalesce(func.max(-payments.c.amount_minor), 0))
        return int(await self.session.scalar(stmt) or 0)
