"""The chaos run's transcript check (scripts/chaos.py) against a real PostgreSQL.

Its queues are empty does not mean the transcripts are written: RabbitMQ does not
count the messages a consumer holds unacked while it writes them. CI saw a run fail
with 2 turns "without NLU" that were only late. ``settled`` waits for them, and still
reports a turn whose NLU never comes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, update

from gateway.transcripts.model import ChatTurn
from gateway.transcripts.schema import TranscriptSchema
from gateway.transcripts.writer import make_engine
from scripts.chaos import settled
from tests.support import fresh_postgres_database

TURNS = [("s1", "m1"), ("s1", "m2")]


@pytest.fixture
def database() -> Iterator[str]:
    with fresh_postgres_database("chaos_settle") as url:
        yield url


async def _turns_without_nlu(url: str) -> None:
    engine = make_engine(url)
    await TranscriptSchema(engine).ensure()
    async with engine.begin() as conn:
        await conn.execute(
            insert(ChatTurn),
            [
                {
                    "session_id": sid,
                    "client_msg_id": cmid,
                    "user_text": "balance",
                    "replies": [],
                    "entities": [],
                    "actions": [],
                    "latency_ms": 5,
                    "created_at": datetime.now(UTC),
                }
                for sid, cmid in TURNS
            ],
        )
    await engine.dispose()


async def _nlu_arrives(url: str, after: float) -> None:
    """What the broker consumer's link does for turn m2, ``after`` seconds late."""
    await asyncio.sleep(after)
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.execute(update(ChatTurn).values(intent="check_balance", confidence=0.9))
    await engine.dispose()


def test_nlu_written_late_is_waited_for(database: str) -> None:
    async def scenario() -> tuple[dict, float]:
        await _turns_without_nlu(database)
        late = asyncio.create_task(_nlu_arrives(database, after=1.5))
        rows, _, waited = await settled(database, TURNS, timeout=20)
        await late
        return rows, waited

    rows, waited = asyncio.run(scenario())
    assert all(rows[turn]["intent"] == "check_balance" for turn in TURNS), rows
    assert waited >= 1.0  # the first read found them without NLU


def test_nlu_that_never_comes_is_still_missing(database: str) -> None:
    async def scenario() -> tuple[dict, float]:
        await _turns_without_nlu(database)
        rows, _, waited = await settled(database, TURNS, timeout=2)
        return rows, waited

    rows, waited = asyncio.run(scenario())
    assert [rows[turn]["intent"] for turn in TURNS] == [None, None]
    assert waited >= 2.0
