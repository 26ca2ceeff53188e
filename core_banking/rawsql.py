"""Hand-written SQL for the hot paths (a transfer, the Idempotency-Key claim).

Statements run on the session's own connection and transaction through
`exec_driver_sql`: no ORM unit of work, no statement construction, compilation or cache
keys per request (py-spy put ~40 % of the server's CPU there), while SQLAlchemy's cursor
events still fire (SQL spans, the statement-count test). psycopg 3 prepares a statement
on a connection once it has run `prepare_threshold` (5) times, so fixed SQL text per
shape is what keeps these prepared.

SQL is written once in psycopg's `%(name)s` style; on SQLite (development) it becomes
`:name`, datetimes are bound in SQLAlchemy's SQLite text layout, and `write_together`
runs its statements one by one instead of as one PostgreSQL statement of CTEs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

POSTGRESQL = "postgresql"
# The database clock (see core_banking.dbclock for why the transaction's start on PG).
CLOCK = {POSTGRESQL: "now()", "sqlite": "strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now')"}
_PARAM = re.compile(r"%\((\w+)\)s")


@dataclass(frozen=True)
class Statement:
    sql: str  # `%(name)s` placeholders; names unique within a write_together batch
    params: Mapping[str, Any]


def dialect(session: AsyncSession) -> str:
    return str(session.get_bind().dialect.name)


def clock(session: AsyncSession) -> str:
    return CLOCK[dialect(session)]


def lock_clause(session: AsyncSession, what: str) -> str:
    """`FOR NO KEY UPDATE [OF ...]` on PostgreSQL; nothing on SQLite, whose single
    writer lock already serialises transactions."""
    return what if dialect(session) == POSTGRESQL else ""


@lru_cache(maxsize=256)
def _sqlite_sql(sql: str) -> str:
    return _PARAM.sub(r":\1", sql).replace("%%", "%")


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):  # as SQLAlchemy's UtcDateTime stores it on SQLite
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


async def execute(
    session: AsyncSession, sql: str, params: Mapping[str, Any] | None = None
) -> CursorResult[Any]:
    connection = await session.connection()
    values = dict(params or {})
    if dialect(session) != POSTGRESQL:
        sql = _sqlite_sql(sql)
        values = {k: _sqlite_value(v) for k, v in values.items()}
    return await connection.exec_driver_sql(sql, values)


async def write_together(session: AsyncSession, statements: Sequence[Statement]) -> None:
    """Run data-modifying statements as one round trip on PostgreSQL (each a CTE of one
    statement, all executed exactly once; foreign keys are checked at its end), or in
    order on SQLite. None may depend on another's RETURNING."""
    if dialect(session) != POSTGRESQL:
        for statement in statements:
            await execute(session, statement.sql, statement.params)
        return
    parts = ", ".join(f"w{n} AS ({s.sql})" for n, s in enumerate(statements))
    params: dict[str, Any] = {}
    for statement in statements:
        params.update(statement.params)
    await execute(session, f"WITH {parts} SELECT 1", params)
