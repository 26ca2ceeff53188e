from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import case, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core_banking.models import Account, Journal, LedgerEntry
from core_banking.models.encrypted import seal
from core_banking.rawsql import Insert, Statement


def posting_statements(
    journal: Mapping[str, Any], entries: list[dict[str, Any]], deltas: Mapping[str, int]
) -> list[Statement | Insert]:
    """A journal, its entries and the balances (one relative UPDATE) for
    rawsql.write_together: the same rows that add_journal and apply_deltas write, their
    personal data encrypted here (hand-written SQL has no column types to do it)."""
    cases, ids, delta_params = [], [], {}
    for n, (account_id, delta) in enumerate(deltas.items()):
        cases.append(f"WHEN %(d{n}_id)s THEN %(d{n}_delta)s")
        ids.append(f"%(d{n}_id)s")
        delta_params.update({f"d{n}_id": account_id, f"d{n}_delta": delta})
    # The relative UPDATE is right whatever was read; the caller holds the row locks.
    balances_sql = (
        f"UPDATE accounts SET balance_minor = balance_minor + CASE id {' '.join(cases)} END "
        f"WHERE id IN ({', '.join(ids)})"
    )
    return [
        Insert("journals", [seal(Journal.__table__, journal)]),
        Insert("ledger_entries", [seal(LedgerEntry.__table__, entry) for entry in entries]),
        Statement(balances_sql, delta_params),
    ]


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

    async def add_journal(self, journal: Mapping[str, Any], entries: list[dict[str, Any]]) -> None:
        """Two statements: the journal row, then all its entries in one multi-row INSERT."""
        await self.session.execute(insert(Journal).values(**journal))
        await self.session.execute(insert(LedgerEntry).values(entries))

    async def apply_deltas(self, deltas: Mapping[str, int]) -> None:
        # One relative UPDATE for all accounts (CASE on the id) rather than read-modify-
        # write in Python: correct even if a caller forgot to lock. (available_minor is
        # computed from the balance and the holds; see models.account.)
        delta = case({account_id: d for account_id, d in deltas.items()}, value=Account.id)
        await self.session.execute(
            update(Account)
            .where(Account.id.in_(list(deltas)))
            .values(balance_minor=Account.balance_minor + delta)
            .execution_options(synchronize_session=False)
        )
