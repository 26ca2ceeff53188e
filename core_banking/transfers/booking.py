"""The statements of `POST /v1/transfers`, hand-written (core_banking.rawsql): the hot
path of the API. Three round trips after the Idempotency-Key claim: lock the customer,
lock both accounts with what the limits need, write everything in one statement.
(Reads and changes of existing transfers use the ORM: transfers.repository.)"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core_banking import rawsql
from core_banking.models import Account, Transfer
from core_banking.models.account import NUMBER_CONTEXT, number_indexes
from core_banking.models.customer import name_from_raw
from core_banking.models.encrypted import opened, seal
from core_banking.rawsql import Insert, Statement
from core_banking.transfers import usage


@dataclass(frozen=True)
class LockedAccount:
    """An account row as read under its lock for this transfer, with its owner's name."""

    id: str
    customer_id: str | None
    number: str
    system_code: str | None
    currency: str
    balance_minor: int
    available_minor: int  # the balance less active, unexpired holds (database clock)
    owner_name: str | None = None

    @classmethod
    def new_system_account(cls, account: Account) -> LockedAccount:
        """A system account created in this transaction (no one else sees it yet)."""
        return cls(account.id, None, account.number, account.system_code, account.currency, 0, 0)


@dataclass(frozen=True)
class Usage:
    """The customer's non-own transfers: today's amount that counts against the daily
    limit, and how many were created in the velocity window (counted up to the rule's
    maximum)."""

    spent_today: int
    recent_count: int


TRANSFER_COLUMNS = (
    "id",
    "created_at",
    "customer_id",
    "from_account_id",
    "to_account_id",
    "to_account_number",
    "to_name",
    "kind",
    "amount_minor",
    "currency",
    "reference",
    "status",
    "risk_reasons",
    "journal_id",
    "completed_at",
    "hold_id",
    "otp_attempts",
)


class BookingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_customer(self, customer_id: str) -> tuple[bool, str | None]:
        """Lock the customer row: (found, display name). Serialises one customer's
        transfers so the daily limit and velocity cannot be raced; taken before any
        account lock, in its own statement, so the next statement's snapshot sees every
        transfer of this customer that committed before it."""
        lock = rawsql.lock_clause(self.session, "FOR NO KEY UPDATE")
        result = await rawsql.execute(
            self.session,
            f"SELECT display_name FROM customers WHERE id = %(customer_id)s {lock}",
            {"customer_id": customer_id},
        )
        row = result.first()
        return (row is not None, name_from_raw(row[0]) if row is not None else None)

    async def lock_accounts(
        self,
        customer_id: str,
        source_id: str,
        *,
        number: str | None,
        system_code: str | None,
        day_start: datetime,
        since: datetime,
        velocity_cap: int,
    ) -> tuple[list[LockedAccount], Usage]:
        """One statement: lock, in id order, the customer's source account and the
        destination (by IBAN, or a bank account by system code), each with its available
        amount and owner's name, and read the customer's usage (transfers.usage: what
        counts against the daily limit, and the non-own transfers since `since` counted
        up to `velocity_cap`). An IBAN is found by its blind index under each index key
        (one, but during a rotation)."""
        now = rawsql.clock(self.session)
        lock = rawsql.lock_clause(self.session, "FOR NO KEY UPDATE OF a")
        others: dict[str, str] = {}
        if number is not None:
            others = {f"other{n}": index for n, index in enumerate(number_indexes(number))}
            placeholders = ", ".join(f"%({name})s" for name in others)
            other = f"a.number_index IN ({placeholders})"
        else:
            assert system_code is not None
            others = {"other0": system_code}
            other = "a.system_code = %(other0)s"
        sql = f"""
            WITH usage AS (
                SELECT {usage.spent_sql(now)} AS spent, {usage.RECENT_SQL} AS recent
            )
            SELECT a.id, a.customer_id, a.number, a.system_code, a.currency, a.balance_minor,
                a.balance_minor - COALESCE((
                    SELECT SUM(hh.amount_minor) FROM holds hh
                    WHERE hh.account_id = a.id AND hh.status = 'active'
                        AND hh.expires_at > {now}
                ), 0),
                c.display_name, usage.spent, usage.recent
            FROM accounts a
            LEFT JOIN customers c ON c.id = a.customer_id
            CROSS JOIN usage
            WHERE (a.id = %(source_id)s AND a.customer_id = %(customer_id)s) OR {other}
            ORDER BY a.id
            {lock}
        """
        params = {
            "customer_id": customer_id,
            "source_id": source_id,
            **others,
            **usage.params(customer_id, day_start),
            "since": since,
            "velocity_cap": velocity_cap,
        }
        result = await rawsql.execute(self.session, sql, params)
        rows: list[tuple[Any, ...]] = [tuple(row) for row in result.all()]
        accounts = [
            # int(): numeric sums on PostgreSQL, plain integers on SQLite.
            LockedAccount(
                row[0],
                row[1],
                str(opened(row[2], context=NUMBER_CONTEXT)),
                row[3],
                row[4],
                int(row[5]),
                int(row[6]),
                name_from_raw(row[7]),
            )
            for row in rows
        ]
        used = Usage(int(rows[0][8]), int(rows[0][9])) if rows else Usage(0, 0)
        return accounts, used

    async def save(
        self,
        transfer: dict[str, Any],
        audit: Insert,
        *,
        posting: Sequence[Statement | Insert] = (),
        hold: dict[str, Any] | None = None,
        response: Statement | None = None,
    ) -> None:
        """One round trip on PostgreSQL: the journal (if the money moves now), the hold
        (if it waits for step-up), the transfer (`transfer` in plaintext: its payee's name
        and IBAN and the reference are encrypted here), its audit row and the stored
        response of its Idempotency-Key (`response`)."""
        statements: list[Statement | Insert] = list(posting)
        if hold is not None:
            statements.append(Insert("holds", [hold]))
        statements.append(Insert("transfers", [seal(Transfer.__table__, transfer)]))
        statements.append(audit)
        if response is not None:
            statements.append(response)
        await rawsql.write_together(self.session, statements)
