"""Hand-written SQL for the hot paths (a transfer, the Idempotency-Key claim).

Statements run in the session's own transaction, on PostgreSQL straight on its psycopg
connection: no ORM unit of work, no statement construction, compilation or cache keys,
no greenlet hop per statement (py-spy put ~40 % of the server's CPU in the first three;
the hop cost another ~70 us of CPU per statement, `bench/ledger.py`). What callers of
SQLAlchemy rely on still holds: its cursor events fire for every statement (SQL spans,
the statement-count test), and a driver error surfaces as SQLAlchemy's `DBAPIError`
(`IntegrityError`, `OperationalError`, ...) with `connection_invalidated` set, and the
connection discarded, when the connection was lost -- what `transactions` retries on.
psycopg 3 prepares a statement on a connection once it has run `prepare_threshold` (5)
times, so fixed SQL text per shape is what keeps these prepared.

SQL is written once in psycopg's `%(name)s` style; on SQLite (development) it runs through
SQLAlchemy with `:name`, datetimes are bound in SQLAlchemy's SQLite text layout, and
`write_together` runs its statements one by one instead of as one PostgreSQL statement
of CTEs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import lru_cache
from typing import Any

import orjson
import psycopg
from psycopg import pq
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

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
    if isinstance(value, date):  # as SQLAlchemy's Date stores it on SQLite
        return value.isoformat()
    return value


class Rows:
    """The rows a statement returned (none for one that returns none), fetched."""

    def __init__(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self._rows = list(rows)

    def all(self) -> list[tuple[Any, ...]]:
        return list(self._rows)

    def first(self) -> tuple[Any, ...] | None:
        return self._rows[0] if self._rows else None

    def one(self) -> tuple[Any, ...]:
        if len(self._rows) != 1:
            raise ValueError(f"expected one row, got {len(self._rows)}")
        return self._rows[0]

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None


_CONNECTIONS = "rawsql.connections"


async def _connections(
    session: AsyncSession,
) -> tuple[AsyncConnection, psycopg.AsyncConnection[Any]]:
    """The session's connection and the psycopg connection under it, remembered for the
    session's current transaction (looking them up costs ~20 us of CPU, and a transfer
    runs three statements); a later transaction of the session may hold another."""
    transaction = session.sync_session.get_transaction()
    cached = session.info.get(_CONNECTIONS)
    if cached is not None and transaction is not None and cached[0] is transaction:
        return cached[1], cached[2]
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    assert isinstance(driver, psycopg.AsyncConnection)
    session.info[_CONNECTIONS] = (session.sync_session.get_transaction(), connection, driver)
    return connection, driver


async def execute(session: AsyncSession, sql: str, params: Mapping[str, Any] | None = None) -> Rows:
    values = dict(params or {})
    if dialect(session) != POSTGRESQL:
        sqlite_values = {k: _sqlite_value(v) for k, v in values.items()}
        connection = await session.connection()
        result = await connection.exec_driver_sql(_sqlite_sql(sql), sqlite_values)
        return Rows([tuple(row) for row in result.all()] if result.returns_rows else [])
    connection, driver = await _connections(session)
    events = connection.sync_connection
    assert events is not None
    cursor = driver.cursor()
    events.dispatch.before_cursor_execute(events, cursor, sql, values, None, False)
    try:
        await cursor.execute(sql, values)
        rows = await cursor.fetchall() if _returned_rows(cursor) else []
    except psycopg.Error as error:
        # The events first: an invalidated connection no longer answers them.
        events.dispatch.after_cursor_execute(events, cursor, sql, values, None, False)
        lost = driver.closed or driver.broken  # what SQLAlchemy's psycopg dialect checks
        if lost:
            # As SQLAlchemy does on a disconnect: discard this connection, and replace
            # the pool, since a lost connection is most often a restarted server.
            await connection.invalidate(error)
            connection.sync_engine.dispose(close=False)
        raise DBAPIError.instance(
            sql, values, error, psycopg.Error, connection_invalidated=lost
        ) from error
    finally:
        await cursor.close()
    events.dispatch.after_cursor_execute(events, cursor, sql, values, None, False)
    return Rows(rows)


def _returned_rows(cursor: psycopg.AsyncCursor[Any]) -> bool:
    # What `cursor.description is not None` answers for these statements (no pipeline,
    # no streaming), without building a Column per field: py-spy put ~10 % of a
    # transfer's CPU in that property (three statements, up to ten columns each).
    result = cursor.pgresult
    return result is not None and result.status == pq.ExecStatus.TUPLES_OK


async def write_together(session: AsyncSession, writes: Sequence[Statement | Insert]) -> None:
    """Run data-modifying statements as one round trip on PostgreSQL (each a CTE of one
    statement, all executed exactly once; foreign keys are checked at its end), or in
    order on SQLite. None may depend on another's RETURNING.

    On PostgreSQL an Insert's rows travel as one JSON parameter
    (`json_populate_recordset`): the SQL text stays short, fixed and with few
    parameters, so psycopg caches its parsing and prepares it (it does neither for
    statements of more than 50 parameters). orjson writes it (aware datetimes in ISO 8601
    with their offset, dates as YYYY-MM-DD) at a fifth of json's CPU."""
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
            params[f"w{n}"] = orjson.dumps(write.rows).decode()
        else:
            sql = write.sql
            params.update(write.params)
        parts.append(f"w{n} AS ({sql})")
    await execute(session, f"WITH {', '.join(parts)} SELECT 1", params)
