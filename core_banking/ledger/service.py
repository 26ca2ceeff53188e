"""Posting balanced journals: the only code path that moves money."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from core_banking.ledger.repository import LedgerRepository
from core_banking.models import Account, Journal
from core_banking.models.base import new_id, utcnow
from core_banking.models.encrypted import blind_index
from core_banking.models.ledger import NUMBER_CONTEXT


class UnbalancedJournal(ValueError):
    """A programming error, not a client error: callers must build balanced legs."""


@dataclass(frozen=True)
class Leg:
    account_id: str
    amount_minor: int  # signed; + increases the account's balance (see LedgerEntry)
    currency: str
    # The other side as this account's owner should see it in their history.
    counterparty_name: str | None = None
    counterparty_number: str | None = None


async def post_journal(
    session: AsyncSession,
    *,
    kind: str,
    description: str,
    legs: Sequence[Leg],
    booked_at: datetime | None = None,
    locked: Mapping[str, Account] | None = None,
) -> Journal:
    """Write a journal and its entries, and move the cached balances: three statements.

    The caller's transaction decides commit/rollback. `locked`: the legs' accounts, already
    locked (LedgerRepository.lock_accounts or an equivalent FOR NO KEY UPDATE in id order)
    and read in this transaction; without it they are locked here. Either way the Account
    objects' balances are updated in memory to the posted values. `booked_at` is for
    back-dated demo history only; real postings are booked now.
    """
    _check_balanced(legs)
    repository = LedgerRepository(session)
    if locked is None:
        locked = {a.id: a for a in await repository.lock_accounts(leg.account_id for leg in legs)}
    accounts = locked
    for leg in legs:
        account = accounts.get(leg.account_id)
        if account is None:
            raise UnbalancedJournal(f"unknown account {leg.account_id}")
        if account.currency != leg.currency:
            raise UnbalancedJournal(
                f"account {account.id} is {account.currency}, not {leg.currency}"
            )

    booked = booked_at or utcnow()
    balances = {leg.account_id: accounts[leg.account_id].balance_minor for leg in legs}
    posting = build_posting(kind, description, legs, balances, booked)
    journal = Journal(
        id=posting.journal["id"], kind=kind, description=description, created_at=booked
    )
    await repository.add_journal(posting.journal, posting.entries)
    await repository.apply_deltas(posting.deltas)
    # What the UPDATE just wrote (exact under the locks): no re-select needed.
    for account_id, delta in posting.deltas.items():
        account = accounts[account_id]
        set_committed_value(account, "balance_minor", account.balance_minor + delta)
        set_committed_value(account, "available_minor", account.available_minor + delta)
    return journal


@dataclass(frozen=True)
class Posting:
    """A balanced journal's rows, ready to write (LedgerRepository), in plaintext: the
    ORM's column types or posting_statements' ``seal`` encrypt them."""

    journal: dict[str, Any]
    entries: list[dict[str, Any]]
    deltas: dict[str, int]  # account id -> change of its balance


def build_posting(
    kind: str,
    description: str,
    legs: Sequence[Leg],
    balances: Mapping[str, int],
    booked: datetime,
) -> Posting:
    """The rows of a journal over `legs`. `balances`: each leg account's balance as read
    under its row lock, so the running balance written on each entry is exact even with
    concurrent postings. Raises UnbalancedJournal for legs that do not balance."""
    _check_balanced(legs)
    journal = {"id": new_id(), "kind": kind, "description": description, "created_at": booked}
    running = dict(balances)
    deltas: dict[str, int] = defaultdict(int)
    entries = []
    for leg in legs:
        running[leg.account_id] += leg.amount_minor
        deltas[leg.account_id] += leg.amount_minor
        entries.append(
            {
                "id": new_id(),
                "journal_id": journal["id"],
                "account_id": leg.account_id,
                "amount_minor": leg.amount_minor,
                "currency": leg.currency,
                "booked_at": booked,
                "balance_after_minor": running[leg.account_id],
                "counterparty_name": leg.counterparty_name,
                "counterparty_number": leg.counterparty_number,
                "counterparty_number_index": blind_index(
                    leg.counterparty_number, context=NUMBER_CONTEXT
                ),
            }
        )
    return Posting(journal, entries, dict(deltas))


def _check_balanced(legs: Sequence[Leg]) -> None:
    if len(legs) < 2:
        raise UnbalancedJournal("a journal needs at least two legs")
    totals: dict[str, int] = defaultdict(int)
    for leg in legs:
        if leg.amount_minor == 0:
            raise UnbalancedJournal("zero-amount leg")
        totals[leg.currency] += leg.amount_minor
    unbalanced = {c: t for c, t in totals.items() if t != 0}
    if unbalanced:
        raise UnbalancedJournal(f"journal does not sum to zero: {unbalanced}")
