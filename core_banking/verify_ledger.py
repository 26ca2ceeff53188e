"""`python -m core_banking.verify_ledger`: check the ledger's invariants on DATABASE_URL.

Prints per-currency totals and checks that
  1. every journal sums to zero per currency,
  2. every account's cached balance equals the sum of its entries,
  3. all balances of a currency (customer and bank accounts) sum to zero,
  4. each currency's gift_card_liability balance equals the sum of its gift cards' balances,
  5. each customer's daily-limit total per UTC day (transfer_daily_usage) equals what their
     completed non-own transfers created that day add up to,
Exits 1 if any check fails (listing what failed), 0 otherwise. Read-only.
"""

from __future__ import annotations

import asyncio
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timezone

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core_banking.db import create_engine, create_sessionmaker
from core_banking.models import (
    Account,
    GiftCard,
    Hold,
    HoldStatus,
    LedgerEntry,
    Transfer,
    TransferDailyUsage,
    TransferKind,
    TransferStatus,
)
from core_banking.settings import Settings, get_settings
from core_banking.system.accounts import GIFT_CARD_LIABILITY, system_code


@dataclass
class LedgerReport:
    customer_totals: dict[str, int] = field(default_factory=dict)
    bank_totals: dict[str, int] = field(default_factory=dict)
    journals: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        out = [f"journals checked: {self.journals}"]
        for currency in sorted(self.customer_totals.keys() | self.bank_totals.keys()):
            customers = self.customer_totals.get(currency, 0)
            bank = self.bank_totals.get(currency, 0)
            out.append(
                f"{currency}: customer accounts {customers}, bank accounts {bank}, "
                f"sum {customers + bank} (minor units)"
            )
        out += [f"DISCREPANCY: {p}" for p in self.problems]
        out.append("ledger OK" if self.ok else f"ledger has {len(self.problems)} discrepancies")
        return out


async def verify(session: AsyncSession) -> LedgerReport:
    report = LedgerReport()
    # One consistent snapshot on PostgreSQL would need REPEATABLE READ; callers run this
    # on a quiet database or accept that a posting racing the check may show up.
    unbalanced = await session.execute(
        select(LedgerEntry.journal_id, LedgerEntry.currency, func.sum(LedgerEntry.amount_minor))
        .group_by(LedgerEntry.journal_id, LedgerEntry.currency)
        .having(func.sum(LedgerEntry.amount_minor) != 0)
    )
    for journal_id, currency, total in unbalanced.all():
        report.problems.append(f"journal {journal_id} sums to {total} {currency}")
    journal_count = select(func.count(func.distinct(LedgerEntry.journal_id)))
    report.journals = int(await session.scalar(journal_count) or 0)

    sums = dict(
        (
            await session.execute(
                select(LedgerEntry.account_id, func.sum(LedgerEntry.amount_minor)).group_by(
                    LedgerEntry.account_id
                )
            )
        ).all()
    )
    for account in await session.scalars(select(Account).order_by(Account.id)):
        entries = int(sums.get(account.id, 0))
        if account.balance_minor != entries:
            report.problems.append(
                f"account {account.number} balance {account.balance_minor} != entries {entries}"
            )
        if account.customer_id is not None and account.available_minor < 0:
            report.problems.append(
                f"account {account.number} has {account.available_minor} available (holds"
                f" exceed the balance {account.balance_minor})"
            )
        totals = report.bank_totals if account.customer_id is None else report.customer_totals
        totals[account.currency] = totals.get(account.currency, 0) + account.balance_minor

    for currency in sorted(report.customer_totals.keys() | report.bank_totals.keys()):
        total = report.customer_totals.get(currency, 0) + report.bank_totals.get(currency, 0)
        if total != 0:
            report.problems.append(f"{currency} balances sum to {total}, not 0")

    cards = dict(
        (
            await session.execute(
                select(GiftCard.currency, func.sum(GiftCard.balance_minor)).group_by(
                    GiftCard.currency
                )
            )
        ).all()
    )
    liabilities = dict(
        (
            await session.execute(
                select(Account.currency, Account.balance_minor).where(
                    Account.system_code.like(f"{GIFT_CARD_LIABILITY}:%")
                )
            )
        ).all()
    )
    for currency in sorted(cards.keys() | liabilities.keys()):
        if int(cards.get(currency, 0)) != int(liabilities.get(currency, 0)):
            report.problems.append(
                f"{system_code(GIFT_CARD_LIABILITY, currency)} is "
                f"{liabilities.get(currency, 0)} but gift cards hold {cards.get(currency, 0)}"
            )
    await _check_holds(session, report)
    report.problems += await daily_usage_problems(session)
    return report


# Each transfer status and the state its hold may be in (None: no hold).
_HOLD_STATES: dict[str, set[str | None]] = {
    TransferStatus.requires_confirmation.value: {HoldStatus.active.value},
    TransferStatus.completed.value: {HoldStatus.captured.value, None},
    # None: cancelled before holds existed (migration 0003).
    TransferStatus.cancelled.value: {HoldStatus.released.value, HoldStatus.expired.value, None},
}


async def _check_holds(session: AsyncSession, report: LedgerReport) -> None:
    """A held transfer's hold is active; a completed one's captured (or it was never
    held); a cancelled one's released or expired."""
    rows = await session.execute(
        select(Transfer.id, Transfer.status, Hold.status).outerjoin(
            Hold, Hold.id == Transfer.hold_id
        )
    )
    for transfer_id, status, hold_status in rows.all():
        if hold_status not in _HOLD_STATES.get(status, set()):
            report.problems.append(f"transfer {transfer_id} is {status} but its hold {hold_status}")


async def daily_usage_problems(session: AsyncSession) -> list[str]:
    """Check 5: the running totals that transfers.usage reads against the transfers."""
    expected: dict[tuple[str, date], int] = defaultdict(int)
    completed = await session.execute(
        select(Transfer.customer_id, Transfer.created_at, Transfer.amount_minor).where(
            Transfer.status == TransferStatus.completed.value,
            Transfer.kind != TransferKind.own.value,
        )
    )
    for customer_id, created_at, amount in completed.all():
        expected[(customer_id, created_at.astimezone(timezone.utc).date())] += amount
    kept = await session.execute(
        select(
            TransferDailyUsage.customer_id,
            TransferDailyUsage.day,
            TransferDailyUsage.completed_minor,
        )
    )
    totals = {(customer_id, day): int(minor) for customer_id, day, minor in kept.all()}
    return [
        f"customer {customer_id} on {day}: daily usage {totals.get((customer_id, day), 0)}"
        f" but completed transfers {expected.get((customer_id, day), 0)}"
        for customer_id, day in sorted(expected.keys() | totals.keys())
        if totals.get((customer_id, day), 0) != expected.get((customer_id, day), 0)
    ]


async def run(settings: Settings) -> LedgerReport:
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session:
            return await verify(session)
    finally:
        await engine.dispose()


def main() -> int:
    report = asyncio.run(run(get_settings()))
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
