from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core_banking.models import Account, Journal, LedgerEntry


class LedgerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_accounts(self, account_ids: Iterable[str]) -> Sequence[Account]:
        # Lock in id order so concurrent postings touching the same accounts cannot
        # deadlock. FOR NO KEY UPDATE (key_share): it still excludes other writers, but
        # not the KEY SHARE locks that inserting rows with a foreign key to an account
        # (entries, transfers) takes; FOR UPDATE would deadlock against those.
        # SQLite ignores the clause; its writer lock already serialises us.
        stmt = (
            select(Account)
            .where(Account.id.in_(sorted(set(account_ids))))
            .order_by(Account.id)
            .with_for_update(key_share=True)
            # Overwrite identity-map copies: callers check balances read under the lock.
            .execution_options(populate_existing=True)
        )
        return (await self.session.scalars(stmt)).all()

    async def add_journal(self, journal: Journal, entries: Sequence[LedgerEntry]) -> None:
        self.session.add(journal)
        await self.session.flush()  # journal row first: entries reference it
        self.session.add_all(entries)
        await self.session.flush()

    async def apply_delta(self, account_id: str, delta: int) -> None:
        # Relative UPDATE rather than read-modify-write in Python: correct even if a
        # caller forgot to lock. available moves with balance until holds exist.
        await self.session.execute(
            update(Account)
            .where(Account.id == account_id)
            .values(
                balance_minor=Account.balance_minor + delta,
                available_minor=Account.available_minor + delta,
            )
            .execution_options(synchronize_session=False)
        )
