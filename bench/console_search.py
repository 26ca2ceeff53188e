"""Cost of the console's word search over encrypted transcripts (decrypt and filter).

    .venv/bin/python -m bench.console_search [--turns 10000,50000] [--runs 5]

(as a module: run as a file, bench/gateway.py would shadow the gateway package).

For each size: a scratch PostgreSQL database (dropped afterwards) gets that many
encrypted turns (10 per conversation, realistic lengths, the development keys), then the
console's first page of ``GET /console/api/sessions?q=...`` is computed the way the API
does (``repository.session_page``) for a word that matches few conversations, and
again with a date range that leaves a tenth of them (the other filters narrow the
sessions before anything is decrypted). Prints the median and the worst of --runs, and
the customer filter (blind index, one indexed equality) for comparison. Then rotates
to a new key and times ``gateway.transcripts.rekey`` over all of it (rows/s).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import psycopg
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.console.review import repository as repo
from gateway.console.review.schemas import SessionFilters
from gateway.fieldcrypt import new_key_spec
from gateway.settings import DEFAULT_DATA_ENCRYPTION_KEYS, Settings
from gateway.transcripts import encrypted
from gateway.transcripts.model import ChatSession, ChatTurn
from gateway.transcripts.rekey import rekey
from gateway.transcripts.schema import TranscriptSchema
from gateway.transcripts.writer import make_engine

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
PER_SESSION = 10
START = datetime(2026, 1, 1, tzinfo=UTC)
TEXTS = [
    "what is my balance on the checking account",
    "send 25 euros to my landlord for the parking space",
    "I think my card was stolen yesterday at the station",
    "how do I activate the authenticator app",
]


async def fill(engine: AsyncEngine, turns: int) -> None:
    sessions = turns // PER_SESSION
    for first in range(0, sessions, 200):  # 2,000 turns per transaction
        rows, summaries = [], []
        for s in range(first, min(first + 200, sessions)):
            at = START + timedelta(days=s % 100, minutes=s)
            rare = " zebracrossing" if s % 97 == 0 else ""
            for n in range(PER_SESSION):
                text = TEXTS[(s + n) % len(TEXTS)] + (rare if n == 5 else "")
                reply = f"Here is what I found about that ({n})."
                rows.append(
                    {
                        "session_id": f"s{s}",
                        "client_msg_id": f"c{n}",
                        "customer_id": f"cust-{s % 500}",
                        "user_text": text,
                        "replies": [{"type": "bot", "seq": n + 1, "text": reply}],
                        "reply_text": reply,
                        "entities": [],
                        "actions": [],
                        "latency_ms": 100,
                        "created_at": at + timedelta(seconds=n),
                    }
                )
            name = f"Customer {s % 500}"
            summaries.append(
                {
                    "session_id": f"s{s}",
                    "customer_id": f"cust-{s % 500}",
                    "customer_name": name,
                    "customer_name_index": encrypted.name_index(name),
                    "started_at": at,
                    "last_at": at + timedelta(seconds=PER_SESSION),
                    "turns": PER_SESSION,
                }
            )
        async with engine.begin() as conn:
            await conn.execute(insert(ChatTurn), rows)
            await conn.execute(insert(ChatSession), summaries)


async def timed(
    engine: AsyncEngine, filters: SessionFilters, runs: int
) -> tuple[float, float, int]:
    took, found = [], 0
    for _ in range(runs):
        began = time.perf_counter()
        async with engine.connect() as conn:
            found = len(await repo.session_page(conn, filters, 0.5, 50, None))
        took.append((time.perf_counter() - began) * 1000)
    return statistics.median(took), max(took), found


async def measure(turns: int, runs: int) -> None:
    name = f"bench_search_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
    try:
        await TranscriptSchema(engine).ensure()
        await fill(engine, turns)
        cases = {
            "q=zebracrossing (all sessions)": SessionFilters(q="zebracrossing"),
            "q=zebracrossing, 10 of 100 days": SessionFilters(
                q="zebracrossing", date_from=date(2026, 1, 1), date_to=date(2026, 1, 10)
            ),
            "customer='customer 7' (blind index)": SessionFilters(customer="customer 7"),
        }
        for label, filters in cases.items():
            median, worst, found = await timed(engine, filters, runs)
            print(
                f"{turns:>7} turns  {label:<38} median {median:8.1f} ms  "
                f"worst {worst:8.1f} ms  ({found} sessions on the page)"
            )
        rotated = f"{new_key_spec('bench2')},{DEFAULT_DATA_ENCRYPTION_KEYS}"
        cipher = encrypted.use_settings(Settings(data_encryption_keys=rotated))
        began = time.perf_counter()
        counts = await rekey(engine, cipher)
        took = time.perf_counter() - began
        rows = sum(c.rekeyed for c in counts)
        print(f"{turns:>7} turns  rekey: {rows} rows in {took:.1f} s ({rows / took:.0f} rows/s)")
    finally:
        encrypted.use_settings(Settings())
        await engine.dispose()
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--turns", default="10000,50000", help="comma separated sizes")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for size in (int(s) for s in args.turns.split(",")):
        asyncio.run(measure(size, args.runs))


if __name__ == "__main__":
    main()
