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

import json
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


@dataclass(frozen=True)
class Insert:
    """Rows for one table, all with the same columns (the keys)."""

    table: str
    rows: Sequence[Mapping[str, Any]]

    @property
    def columns(self) -> str:
        return ", ".join(self.rows[0])


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


async def write_together(session: AsyncSession, writes: Sequence[Statement | Insert]) -> None:
    """Run data-modifying statements as one round trip on PostgreSQL (each a CTE of one
    statement, all executed exactly once; foreign keys are checked at its end), or in
    order on SQLite. None may depend on another's RETURNING.

    On PostgreSQL an Insert's rows travel as one JSON parameter
    (`json_populate_recordset`): the SQL text stays short, fixed and with few
    parameters, so psycopg caches its parsing and prepares it (it does neither for
    statements of more than 50 parameters)."""
    if dialect(session) != POSTGRESQL:
        for write in writes:
            if isinstance(write, Insert):
                values = ", ".join(f"%({c})s" for c in write.rows[0])
                sql = f"INSERT INTO {write.table} ({write.columns}) VALUES ({values})"
                for row in write.rows:
                    await execute(session, sql, row)
            else:
                await execute(session, write.sql, write.params)
        return
    parts, params = [], {}
    for n, write in enumerate(writes):
        if isinstance(write, Insert):
            source = f"json_populate_recordset(NULL::{write.table}, %(w{n})s::json)"
            sql = (
                f"INSERT INTO {write.table} ({write.columns}) SELECT {write.columns} FROM {source}"
            )
            params[f"w{n}"] = json.dumps(write.rows, default=_json_value, separators=(",", ":"))
        else:
            sql = write.sql
            params.update(write.params)
        parts.append(f"w{n} AS ({sql})")
    await execute(session, f"WITH {', '.join(parts)} SELECT 1", params)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()  # aware UTC datetimes: PostgreSQL reads the offset
    raise TypeError(f"{type(value).__name__} in a row for JSON")
