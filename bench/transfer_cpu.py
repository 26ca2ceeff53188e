"""CPU per POST /v1/transfers inside the app, without HTTP: for A/B of server changes.

    PYTHONPATH=. .venv/bin/python bench/transfer_cpu.py [--requests 3000] [--rounds 3]

Creates a scratch database (dropped afterwards), migrates and seeds it as bench/ledger.py
does, builds the app in this process and calls it as an ASGI app, one request at a time,
on uvloop (what uvicorn runs). Prints, for each round, this process's CPU milliseconds
(user + system, so psycopg's socket work is in) per 201 and its database backends' (the
statements' work, not WAL writing in the background); then the prepared statements of
one pooled connection with how often PostgreSQL used a generic plan or planned afresh. One
request at a time keeps the figure free of contention with PostgreSQL for the cores:
compare it with itself, before and after a change. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import uvloop
from fastapi import FastAPI
from sqlalchemy import text

from bench.ledger import (
    create_database,
    database_cpu_seconds,
    drop_database,
    make_keys,
    seeded_accounts,
    server_settings,
    token,
)

PLANS_SQL = (
    "SELECT generic_plans, custom_plans, left(regexp_replace(statement, '\\s+', ' ', 'g'), 60)"
    " FROM pg_prepared_statements ORDER BY 3"
)


async def post(app: FastAPI, bearer: str, body: dict[str, Any]) -> int:
    """One POST through the ASGI interface: the response's status."""
    raw = json.dumps(body).encode()
    headers = [
        (b"host", b"bench"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(raw)).encode()),
        (b"authorization", f"Bearer {bearer}".encode()),
        (b"idempotency-key", str(uuid.uuid4()).encode()),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/transfers",
        "raw_path": b"/v1/transfers",
        "root_path": "",
        "query_string": b"",
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "headers": headers,
    }
    messages = [{"type": "http.request", "body": raw, "more_body": False}]
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(scope, receive, send)
    return statuses[0]


async def measure(
    app: FastAPI, requests: list[tuple[str, dict[str, Any]]], rounds: int, database: str
) -> None:
    for bearer, body in requests[:300]:  # warm: pool, prepared statements, caches
        await post(app, bearer, body)
    for n in range(rounds):
        started, db_started = time.process_time(), database_cpu_seconds(database)
        for bearer, body in requests:
            status = await post(app, bearer, body)
            if status != 201:
                raise RuntimeError(f"POST /v1/transfers answered {status}")
        cpu_ms = (time.process_time() - started) * 1000 / len(requests)
        db_ms = (database_cpu_seconds(database) - db_started) * 1000 / len(requests)
        print(
            f"round {n + 1}: {cpu_ms:.3f} cpu ms per transfer, database {db_ms:.3f}"
            f" ({len(requests)} transfers)"
        )
    async with app.state.engine.connect() as connection:
        print("generic plans, custom plans, statement:")
        for generic, custom, statement in (await connection.execute(text(PLANS_SQL))).all():
            print(f"  {generic:>7} {custom:>7}  {statement}")
    await app.state.engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    base = args.admin_url.rsplit("/", 1)[0]
    name = f"bench_cpu_{secrets.token_hex(4)}"
    create_database(args.admin_url, name)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            private_pem = make_keys(Path(tmp))
            # create_app below reads the settings from this process's environment.
            os.environ.update(server_settings(f"{base}/{name}", Path(tmp) / "public.pem"))
            env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
            accounts = seeded_accounts(env, 16)
            # One token per customer, as a client keeps its token for many requests.
            tokens = [token(private_pem, customer) for customer, _, _ in accounts]
            requests = [
                (
                    tokens[n % len(accounts)],
                    {
                        "from_account_id": accounts[n % len(accounts)][1],
                        "to_account_number": accounts[(n + 1) % len(accounts)][2],
                        "amount_minor": 1,
                        "currency": "EUR",
                        "reference": "bench",
                    },
                )
                for n in range(args.requests)
            ]
            from core_banking.app import create_app  # after the environment is set

            uvloop.run(measure(create_app(), requests, args.rounds, name))
    finally:
        drop_database(args.admin_url, name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
