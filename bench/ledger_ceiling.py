"""The ceiling for bench/ledger.py: the least a Python HTTP API can do per transfer.

One FastAPI endpoint, `POST /tpcb`, runs pgbench's own TPC-B-like transaction (three
UPDATEs, one SELECT, one INSERT, the statements of `pgbench -b tpcb-like`) on a pooled
psycopg 3 async connection, on the database `pgbench -i` made, and answers 201 with the
new balance. No auth, ORM, idempotency, locking order, risk check or audit: whatever
this server reaches is the most any API over HTTP in one uvicorn process on this
machine can reach with a transaction of pgbench's size, so its ratio to pgbench bounds
the transfers/s target.

    DATABASE_URL=postgresql://... python bench/ledger_ceiling.py PORT POOL_SIZE
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict

# pgbench's scale 1: 100,000 accounts, 10 tellers, 1 branch.
ACCOUNTS, TELLERS, BRANCHES = 100_000, 10, 1


class Transaction(BaseModel):
    model_config = ConfigDict(extra="forbid")
    aid: int
    tid: int
    bid: int
    delta: int


def make_app(database_url: str, pool_size: int) -> FastAPI:
    pool: asyncio.Queue[psycopg.AsyncConnection] = asyncio.Queue()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        for _slot in range(pool_size):
            pool.put_nowait(await psycopg.AsyncConnection.connect(database_url))
        yield
        while not pool.empty():
            await pool.get_nowait().close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/tpcb", status_code=201)
    async def tpcb(body: Transaction) -> dict[str, int]:
        conn = await pool.get()
        try:
            async with conn.transaction():
                await conn.execute(
                    "UPDATE pgbench_accounts SET abalance = abalance + %s WHERE aid = %s",
                    (body.delta, body.aid),
                )
                cursor = await conn.execute(
                    "SELECT abalance FROM pgbench_accounts WHERE aid = %s", (body.aid,)
                )
                row = await cursor.fetchone()
                await conn.execute(
                    "UPDATE pgbench_tellers SET tbalance = tbalance + %s WHERE tid = %s",
                    (body.delta, body.tid),
                )
                await conn.execute(
                    "UPDATE pgbench_branches SET bbalance = bbalance + %s WHERE bid = %s",
                    (body.delta, body.bid),
                )
                await conn.execute(
                    "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) "
                    "VALUES (%s, %s, %s, %s, CURRENT_TIMESTAMP)",
                    (body.tid, body.bid, body.aid, body.delta),
                )
        finally:
            pool.put_nowait(conn)
        return {"abalance": int(row[0]) if row else 0}

    return app


if __name__ == "__main__":
    port, size = int(sys.argv[1]), int(sys.argv[2])
    uvicorn.run(
        make_app(os.environ["DATABASE_URL"], size), host="127.0.0.1", port=port, log_level="warning"
    )
