from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from core_banking.dbclock import db_now
from core_banking.models import (
    Account,
    Customer,
    Hold,
    Journal,
    LedgerEntry,
    Transfer,
)
from core_banking.models.account import number_indexes
from core_banking.models.encrypted import blind_indexes
from core_banking.models.ledger import NUMBER_CONTEXT


@dataclass(frozen=True)
class LockedTransfer:
    transfer: Transfer
    hold: Hold | None
    expired: bool  # the hold's expires_at has passed by the database clock
    source_number: str
    payer_name: str | None

    @property
    def known(self) -> tuple[str, str | None]:
        """What views.render would otherwise query."""
        return self.source_number, self.payer_name


class TransferRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def owned_account(self, customer_id: str, account_id: str) -> Account | None:
        stmt = select(Account).where(Account.id == account_id, Account.customer_id == customer_id)
        return await self.session.scalar(stmt)

    async def account_by_number(self, number: str) -> Account | None:
        found = Account.number_index.in_(number_indexes(number))
        return await self.session.scalar(select(Account).where(found))

    async def lock_customer(self, customer_id: str) -> str | None:
        """Lock the customer row and return the display name (None: no such customer).

        Serialises one customer's transfers so the daily limit and velocity counts
        cannot be raced. Always taken before any account lock (see service)."""
        stmt = (
            select(Customer.display_name)
            .where(Customer.id == customer_id)
            .with_for_update(key_share=True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def lock_transfer_accounts(
        self, customer_id: str, source_id: str, *, number: str | None, system_code: str | None
    ) -> Sequence[tuple[Account, str | None]]:
        """Fetch and lock, in one statement and in id order, the customer's source account
        and the destination (by IBAN, or a bank account by system code), each with its
        owner's display name. Either may be missing from the result."""
        wanted = and_(Account.id == source_id, Account.customer_id == customer_id)
        other: ColumnElement[bool]
        if number is not None:
            other = Account.number_index.in_(number_indexes(number))
        else:
            other = Account.system_code == system_code
        stmt = (
            select(Account, Customer.display_name)
            .outerjoin(Customer, Customer.id == Account.customer_id)
            .where(or_(wanted, other))
            .order_by(Account.id)
            .with_for_update(key_share=True, of=Account)
            .execution_options(populate_existing=True)
        )
        return [(account, name) for account, name in (await self.session.execute(stmt)).all()]

    async def get_owned(self, customer_id: str, transfer_id: str) -> Transfer | None:
        stmt = select(Transfer).where(
            Transfer.id == transfer_id, Transfer.customer_id == customer_id
        )
        return await self.session.scalar(stmt)

    async def lock_owned(self, customer_id: str, transfer_id: str) -> LockedTransfer | None:
        """One statement: the customer's transfer, locked, with its hold, whether that
        expired, the source account's number and the payer's name.

        Only the transfer row is locked (PostgreSQL cannot lock the nullable side of an
        outer join): every change of a hold (confirm, cancel, the sweeper) locks its
        transfer first, and changes the transfer's status with it, so the status read
        under this lock says whether the hold may still be acted on."""
        stmt = (
            select(
                Transfer,
                Hold,
                Hold.expires_at <= db_now(),
                Account.number,
                Customer.display_name,
            )
            .join(Account, Account.id == Transfer.from_account_id)
            .join(Customer, Customer.id == Transfer.customer_id)
            .outerjoin(Hold, Hold.id == Transfer.hold_id)
            .where(Transfer.id == transfer_id, Transfer.customer_id == customer_id)
            .with_for_update(key_share=True, of=Transfer)
            .execution_options(populate_existing=True)
        )
        row = (await self.session.execute(stmt)).one_or_none()
        if row is None:
            return None
        transfer, hold, expired, number, name = row
        return LockedTransfer(transfer, hold, bool(expired), number, name)

    async def page(
        self, customer_id: str, limit: int, after: tuple[datetime, str] | None
    ) -> Sequence[Transfer]:
        stmt = select(Transfer).where(Transfer.customer_id == customer_id)
        if after is not None:
            stmt = stmt.where(tuple_(Transfer.created_at, Transfer.id) < tuple_(*after))
        stmt = stmt.order_by(Transfer.created_at.desc(), Transfer.id.desc()).limit(limit)
        return (await self.session.scalars(stmt)).all()

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
        """`number` in electronic form. Compared by blind index (the number is
        encrypted), under every index key: during a rotation old rows still match."""
        payments = self._customer_payments(customer_id).subquery()
        stmt = (
            select(func.count())
            .select_from(payments)
            .where(
                payments.c.counterparty_number_index.in_(
                    blind_indexes(number, context=NUMBER_CONTEXT)
                )
            )
        )
        return bool(await self.session.scalar(stmt))

    async def largest_payment(self, customer_id: str) -> int:
        payments = self._customer_payments(customer_id).subquery()
        stmt = select(func.coalesce(func.max(-payments.c.amount_minor), 0))
        return int(await self.session.scalar(stmt) or 0)
