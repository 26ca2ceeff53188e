from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Unpack

from sqlalchemy import Row, Text, case, func, select, tuple_, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from core_banking.models import Account, Journal, LedgerEntry
from core_banking.models.encrypted import opened
from core_banking.models.ledger import DESCRIPTION_CONTEXT, NAME_CONTEXT, NUMBER_CONTEXT

# Checking first, then savings: the order the assistant lists them in.
_TYPE_ORDER = case({"checking": 0, "savings": 1}, value=Account.type, else_=2)


@dataclass(frozen=True)
class HistoryFilter:
    booked_from: datetime | None = None  # inclusive
    booked_to: datetime | None = None  # exclusive
    text: str | None = None
    min_amount_minor: int | None = None  # on the magnitude: 50 matches +50 and -50
    max_amount_minor: int | None = None


# A text search reads the account's rows newest first in batches, starting at this many
# (or the page size) and doubling up to the maximum: a common word fills a page from the
# first batch, a rare one scans with few round trips.
SCAN_FIRST_BATCH = 50
SCAN_MAX_BATCH = 1_000
# An entry with its journal's kind and description (AccountRepository._page's columns).
HistoryRow = Row[Unpack[tuple[Any, ...]]]
# What a text search reads of each row: the keyset and the three searched columns as
# stored (ciphertext: decrypted only as far as needed, see _matches).
_SCANNED = (
    LedgerEntry.id,
    LedgerEntry.booked_at,
    type_coerce(Journal.description, Text).label("description"),
    type_coerce(LedgerEntry.counterparty_name, Text).label("counterparty_name"),
    type_coerce(LedgerEntry.counterparty_number, Text).label("counterparty_number"),
)
_SEARCHED = (DESCRIPTION_CONTEXT, NAME_CONTEXT, NUMBER_CONTEXT)  # _SCANNED[2:]'s contexts


def _matches(row: HistoryRow, needle: str) -> bool:
    """What ``lower(coalesce(column, '')) LIKE '%needle%'`` over the description and the
    counterparty's name and IBAN did, on their decrypted values (in that order, up to
    the first that matches)."""
    return any(
        needle in str(opened(stored, context=context)).lower()
        for stored, context in zip(row[2:], _SEARCHED, strict=True)
        if stored is not None
    )


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
    ) -> list[HistoryRow]:
        """Up to `limit` entries of the account, newest first after the keyset `after`
        (booked_at, id), each with its journal's kind and description.

        The text filter is a case-insensitive substring of the description or of the
        counterparty's name or IBAN, all three encrypted at rest, so SQL cannot apply
        it: the other filters narrow the rows in SQL, the rows are read in keyset
        batches (only their keyset and those three columns, as stored) and decrypted and
        matched here until `limit` have matched or none are left; then the matches are
        read in full. Cost per row scanned: docs/operations.md "Encryption at rest"
        (bench/history_search.py)."""
        if not where.text:
            return await self._page(account_id, where, after, limit)
        needle, matched = where.text.lower(), list[str]()
        batch = max(limit, SCAN_FIRST_BATCH)
        while len(matched) < limit:
            rows = await self._rows(_SCANNED, account_id, where, after, batch)
            matched += [row.id for row in rows if _matches(row, needle)]
            if len(rows) < batch:
                break
            after = (rows[-1].booked_at, rows[-1].id)
            batch = min(batch * 2, SCAN_MAX_BATCH)
        if not matched:
            return []
        return await self._page(account_id, where, None, limit, only=matched[:limit])

    async def _page(
        self,
        account_id: str,
        where: HistoryFilter,
        after: tuple[datetime, str] | None,
        limit: int,
        only: Sequence[str] | None = None,
    ) -> list[HistoryRow]:
        """The entries that pass every filter but the text one, in full (decrypted);
        `only`: of these entries (a text search's matches)."""
        columns = (
            LedgerEntry.id,
            LedgerEntry.journal_id,
            LedgerEntry.booked_at,
            LedgerEntry.amount_minor,
            LedgerEntry.currency,
            LedgerEntry.balance_after_minor,
            LedgerEntry.counterparty_name,
            LedgerEntry.counterparty_number,
            Journal.kind,
            Journal.description,
        )
        return await self._rows(columns, account_id, where, after, limit, only)

    async def _rows(
        self,
        columns: tuple[Any, ...],
        account_id: str,
        where: HistoryFilter,
        after: tuple[datetime, str] | None,
        limit: int,
        only: Sequence[str] | None = None,
    ) -> list[HistoryRow]:
        stmt = (
            select(*columns)
            .join(Journal, Journal.id == LedgerEntry.journal_id)
            .where(LedgerEntry.account_id == account_id)
        )
        if after is not None:
            stmt = stmt.where(tuple_(LedgerEntry.booked_at, LedgerEntry.id) < tuple_(*after))
        if only is not None:
            stmt = stmt.where(LedgerEntry.id.in_(only))
        if where.booked_from is not None:
            stmt = stmt.where(LedgerEntry.booked_at >= where.booked_from)
        if where.booked_to is not None:
            stmt = stmt.where(LedgerEntry.booked_at < where.booked_to)
        if where.min_amount_minor is not None:
            stmt = stmt.where(func.abs(LedgerEntry.amount_minor) >= where.min_amount_minor)
        if where.max_amount_minor is not None:
            stmt = stmt.where(func.abs(LedgerEntry.amount_minor) <= where.max_amount_minor)
        stmt = stmt.order_by(LedgerEntry.booked_at.desc(), LedgerEntry.id.desc()).limit(limit)
        return list((await self.session.execute(stmt)).all())
