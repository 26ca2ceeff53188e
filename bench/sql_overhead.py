"""CPU per statement and per transaction of the ways core_banking can reach PostgreSQL.

    PYTHONPATH=. .venv/bin/python bench/sql_overhead.py [--url postgresql://...] [-n 3000]

On one connection, the same prepared `SELECT %(a)s::int` run n times:
- through SQLAlchemy's `AsyncConnection.exec_driver_sql` (a greenlet hop, an execution
  context and a result per statement: what core_banking.rawsql did before);
- straight on the psycopg connection under it (what core_banking.rawsql does now);
- as BEGIN + the statement + COMMIT, plainly and in psycopg's pipeline mode (which
  sends BEGIN with the statement);
- an empty AsyncSession transaction (session, begin, connection, commit): the ORM
  plumbing a TransactionRunner attempt costs before any SQL.
Prints process CPU microseconds per operation (wall clock too for the pipeline pair).
Only the given server is contacted; every loop is bounded by n.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Awaitable, Callable

import psycopg
import uvloop
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

SQL = "SELECT %(a)s::int"


async def measure(name: str, n: int, step: Callable[[], Awaitable[object]]) -> None:
    for _ in range(10):  # warm up: psycopg prepares after 5 runs
        await step()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        await step()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{name:<44} {cpu / n * 1e6:8.1f} us CPU {wall / n * 1e6:8.1f} us wall")


async def main(url: str, n: int) -> None:
    engine = create_async_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        async with AsyncSession(engine) as session:
            connection = await session.connection()
            driver = (await connection.get_raw_connection()).driver_connection
            assert isinstance(driver, psycopg.AsyncConnection)

            async def via_sqlalchemy() -> object:
                return (await connection.exec_driver_sql(SQL, {"a": 1})).all()

            async def via_driver() -> object:
                cursor = driver.cursor()
                await cursor.execute(SQL, {"a": 1})
                return await cursor.fetchall()

            await measure("statement via exec_driver_sql", n, via_sqlalchemy)
            await measure("statement on the psycopg connection", n, via_driver)
            await session.rollback()

        plain = await psycopg.AsyncConnection.connect(url)
        try:

            async def transaction() -> object:
                cursor = plain.cursor()
                await cursor.execute(SQL, {"a": 1})
                rows = await cursor.fetchall()
                await plain.commit()
                return rows

            async def pipelined() -> object:
                cursor = plain.cursor()
                async with plain.pipeline():
                    await cursor.execute(SQL, {"a": 1})
                    rows = await cursor.fetchall()
                await plain.commit()
                return rows

            await measure("BEGIN + statement + COMMIT", n, transaction)
            await measure("the same in pipeline mode", n, pipelined)
        finally:
            await plain.close()

        async def empty_session_transaction() -> object:
            async with AsyncSession(engine) as session, session.begin():
                return await session.connection()

        await measure("AsyncSession: begin, connection, commit", n, empty_session_transaction)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("-n", type=int, default=3000)
    args = parser.parse_args()
    uvloop.run(main(args.url, args.n))
