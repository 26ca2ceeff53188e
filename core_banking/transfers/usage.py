"""What counts against a customer's daily transfer limit, read and kept in O(1) rows.

What counts (core_banking/README.md, "Daily limit"): non-own transfers created since the
start of the UTC day that are completed, or held for step-up with a hold that is active
and unexpired by the database clock; cancelled and expired holds never count.

The completed part is a running total per customer and day (`transfer_daily_usage`),
raised in the same transaction that completes a transfer (`completed`), on the day the
transfer was created; the held part is summed from the few held transfers of the day
(partial index `ix_transfers_held_customer`). Summing every transfer of the day instead
cost the database more with each transfer the customer had made that day.

Velocity (transfers.risk) counts non-own transfers in a window, but only up to the
rule's maximum: past it the answer no longer changes.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core_banking import rawsql
from core_banking.rawsql import Statement


def spent_sql(now: str) -> str:
    """A scalar subquery: the amount that counts against the limit for the customer
    `%(customer_id)s` on the day `%(day)s` that starts at `%(day_start)s`. `now`: the
    database clock's SQL (rawsql.clock), a constant."""
    return f"""(
        COALESCE((
            SELECT u.completed_minor FROM transfer_daily_usage u
            WHERE u.customer_id = %(customer_id)s AND u.day = %(day)s
        ), 0)
        + COALESCE((
            SELECT SUM(t.amount_minor) FROM transfers t JOIN holds h ON h.id = t.hold_id
            WHERE t.customer_id = %(customer_id)s AND t.status = 'requires_confirmation'
                AND t.created_at >= %(day_start)s AND t.kind <> 'own'
                AND h.status = 'active' AND h.expires_at > {now}
        ), 0)
    )"""  # noqa: S608


# The customer's non-own transfers created since `%(since)s`, counted up to
# `%(velocity_cap)s` (the velocity rule's maximum): at most that many index entries read.
RECENT_SQL = """(
    SELECT COUNT(*) FROM (
        SELECT 1 FROM transfers t
        WHERE t.customer_id = %(customer_id)s AND t.kind <> 'own'
            AND t.created_at >= %(since)s
        LIMIT %(velocity_cap)s
    ) recent
)"""


def params(customer_id: str, day_start: datetime) -> dict[str, object]:
    """The parameters of `spent_sql`."""
    return {"customer_id": customer_id, "day": day_start.date(), "day_start": day_start}


async def spent_today(session: AsyncSession, customer_id: str, day_start: datetime) -> int:
    """What counts against the limit today: a read without locks."""
    sql = f"SELECT {spent_sql(rawsql.clock(session))}"
    spent = (await rawsql.execute(session, sql, params(customer_id, day_start))).scalar()
    return int(spent or 0)  # numeric on PostgreSQL, an integer on SQLite


def completed(customer_id: str, created_day: date, amount_minor: int) -> Statement:
    """Add a completed non-own transfer created on `created_day` (UTC) to its day's
    total, for rawsql.write_together or rawsql.execute; the transfer's own transaction."""
    return Statement(
        "INSERT INTO transfer_daily_usage (customer_id, day, completed_minor)"
        " VALUES (%(usage_customer)s, %(usage_day)s, %(usage_amount)s)"
        " ON CONFLICT (customer_id, day) DO UPDATE"
        " SET completed_minor = transfer_daily_usage.completed_minor"
        " + excluded.completed_minor",
        {"usage_customer": customer_id, "usage_day": created_day, "usage_amount": amount_minor},
    )
