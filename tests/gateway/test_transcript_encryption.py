"""Transcripts at rest (issue 19), on real PostgreSQL: text, replies and customer names
are ciphertext in the tables; ``gateway.transcripts.rekey`` moves every row to a new
key (and encrypts rows from before encryption) while the old key still reads; after
that the old key can go; the console's word search and customer filter still find
the conversations (decrypt-and-filter, blind index)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis.asyncio as aioredis
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.console.review import erasure
from gateway.console.review import repository as repo
from gateway.console.review.schemas import SessionFilters
from gateway.fieldcrypt import FieldDecryptError, new_key_spec, parse_index_keys
from gateway.settings import DEFAULT_DATA_ENCRYPTION_KEY, DEFAULT_DATA_INDEX_KEY, Settings
from gateway.transcripts import encrypted
from gateway.transcripts.model import ChatSession, ChatTurn, ReplyFeedback, SessionNote
from gateway.transcripts.rekey import rekey
from gateway.transcripts.schema import TranscriptSchema
from gateway.transcripts.writer import GROUP, TranscriptQueue, TranscriptWriter, make_engine
from tests.gateway.conftest import REDIS_URL

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
ROOT = Path(__file__).resolve().parents[2]
KEY_A, KEY_B = new_key_spec("keyA"), new_key_spec("keyB")
INDEX_2 = new_key_spec("ix2")  # index keys have the data keys' form: kid:base64


def keys(spec: str) -> Settings:
    return Settings(data_encryption_keys=spec)


@pytest.fixture
def pg_url() -> Iterator[str]:
    name = f"gwcrypt_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        pytest.skip("PostgreSQL not reachable")
    admin.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture
async def engine(pg_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(pg_url)
    await TranscriptSchema(engine).ensure()
    yield engine
    await engine.dispose()
    encrypted.use_settings(Settings())  # the development keys the other tests use


def turn(n: int, session: str, user_text: str, reply: str) -> dict[str, Any]:
    replies = [{"type": "bot", "seq": n, "text": reply}]
    return {
        "session_id": session,
        "client_msg_id": f"c{n}",
        "customer_id": f"cust-{session}",
        "user_text": user_text,
        "replies": replies,
        "reply_text": reply,
        "entities": [],
        "actions": [],
        "latency_ms": 5,
        "created_at": datetime(2026, 12, 1, 10, n, tzinfo=UTC),
    }


async def raw(engine: AsyncEngine, sql: str) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(text(sql))).all())


async def search(engine: AsyncEngine, **filters: Any) -> set[str]:
    async with engine.connect() as conn:
        query = await repo.matching_sessions(conn, SessionFilters(**filters), 0.5)
        return {row.session_id for row in await conn.execute(query)}


async def test_rotation_moves_every_row_and_the_console_still_finds_them(
    engine: AsyncEngine,
) -> None:
    encrypted.use_settings(keys(KEY_A))
    async with engine.begin() as conn:
        await conn.execute(
            insert(ChatTurn),
            [
                turn(1, "s1", "I lost my card", "I froze it"),
                turn(2, "s1", "thanks", "You are welcome"),
                turn(3, "s2", "send 20 EUR to Ben", "Sent"),
            ],
        )
        await conn.execute(
            insert(ChatSession),
            [
                {
                    "session_id": "s1",
                    "customer_name": "Anna Meier",
                    "customer_name_index": encrypted.name_index("Anna Meier"),
                    "last_at": datetime(2026, 12, 1, tzinfo=UTC),
                },
                {
                    "session_id": "s2",
                    "customer_name": None,
                    "customer_name_index": None,
                    "last_at": datetime(2026, 12, 1, tzinfo=UTC),
                },
            ],
        )
    # A conversation recorded before encryption: plaintext text, JSON array, no index.
    await insert_plaintext(engine)

    stored = await raw(engine, "SELECT user_text, reply_text, replies::text FROM chat_turns")
    assert all(v.startswith(("v1:keyA:", '"v1:keyA:')) for row in stored[:3] for v in row)
    assert not any("card" in v or "froze" in v for row in stored[:3] for v in row)

    cipher = encrypted.use_settings(keys(f"{KEY_B},{KEY_A}"))
    counts = {c.table: (c.rekeyed, c.left) for c in await rekey(engine, cipher, batch_size=2)}
    assert counts == {
        "chat_turns": (4, 0),
        "chat_sessions": (2, 0),
        "rasa_events": (0, 0),
        "session_notes": (0, 0),
        "reply_feedback": (0, 0),
    }
    stored = await raw(engine, "SELECT user_text, reply_text, replies::text FROM chat_turns")
    values = [v for row in stored for v in row if v is not None]  # old rows: no reply_text
    assert len(values) == 11 and all(v.startswith(("v1:keyB:", '"v1:keyB:')) for v in values)
    [(name, index)] = await raw(
        engine, "SELECT customer_name, customer_name_index FROM chat_sessions WHERE session_id='s0'"
    )
    assert name.startswith("v1:keyB:") and index == encrypted.name_index("old customer")

    encrypted.use_settings(keys(KEY_B))  # A gone: everything still reads
    async with engine.connect() as conn:
        texts = (await conn.execute(select(ChatTurn.user_text).order_by(ChatTurn.id))).scalars()
        assert list(texts) == ["I lost my card", "thanks", "send 20 EUR to Ben", "hello from 2025"]
        replies = (await conn.execute(select(ChatTurn.replies).where(ChatTurn.id == 1))).scalar()
        assert replies == [{"type": "bot", "seq": 1, "text": "I froze it"}]
    assert await search(engine, q="CARD welcome") == {"s1"}  # words across turns
    assert await search(engine, q="eur") == {"s2"}
    assert await search(engine, q="2025") == {"s0"}
    assert await search(engine, q="card ben") == set()
    assert await search(engine, customer="anna MEIER") == {"s1"}
    assert await search(engine, customer="Old Customer") == {"s0"}

    encrypted.use_settings(keys(KEY_A))  # and A alone reads nothing: it really moved
    async with engine.connect() as conn:
        with pytest.raises(FieldDecryptError, match="keyB"):
            (await conn.execute(select(ChatTurn.user_text))).all()


async def insert_plaintext(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO chat_turns (session_id, client_msg_id, customer_id, user_text,"
                " replies, entities, actions, fallback, handoff, failed, latency_ms,"
                " created_at) VALUES ('s0', 'c0', 'cust-s0', 'hello from 2025',"
                ' \'[{"type": "bot", "seq": 1, "text": "hi"}]\', \'[]\', \'[]\','
                " false, false, false, 3, now())"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO chat_sessions (session_id, customer_name, last_at, turns,"
                " fallback, handoff, reviewed) VALUES ('s0', 'Old Customer', now(), 1,"
                " false, false, false)"
            )
        )


async def test_feedback_ratings_and_staff_notes_are_encrypted_and_rotated(
    engine: AsyncEngine,
) -> None:
    """The customer's feedback and rating comments and staff notes about a customer are
    free text like a turn's: ciphertext at rest, read in clear, moved by rekey (the
    feedback table's key has two columns)."""
    encrypted.use_settings(keys(KEY_A))
    at = datetime(2026, 12, 1, tzinfo=UTC)
    async with engine.begin() as conn:
        await conn.execute(
            insert(ReplyFeedback),
            [
                {"session_id": "s1", "seq": n, "value": "down", "comment": f"wrong {n}", "at": at}
                for n in (1, 2, 3)
            ],
        )
        await conn.execute(
            insert(ChatSession),
            [{"session_id": "s1", "last_at": at, "rating_score": 2, "rating_comment": "slow bot"}],
        )
        await conn.execute(
            insert(SessionNote),
            [{"session_id": "s1", "staff": "agent1", "text": "Anna called back", "created_at": at}],
        )
    stored = await raw(
        engine,
        "SELECT comment FROM reply_feedback UNION ALL SELECT rating_comment FROM chat_sessions"
        " UNION ALL SELECT text FROM session_notes",
    )
    assert len(stored) == 5 and all(v.startswith("v1:keyA:") for (v,) in stored), stored

    cipher = encrypted.use_settings(keys(f"{KEY_B},{KEY_A}"))
    counts = {c.table: (c.rekeyed, c.left) for c in await rekey(engine, cipher, batch_size=2)}
    assert counts["reply_feedback"] == (3, 0) and counts["session_notes"] == (1, 0)
    encrypted.use_settings(keys(KEY_B))  # A gone: everything still reads
    async with engine.connect() as conn:
        comments = await conn.execute(select(ReplyFeedback.comment).order_by(ReplyFeedback.seq))
        assert list(comments.scalars()) == ["wrong 1", "wrong 2", "wrong 3"]
        assert await conn.scalar(select(ChatSession.rating_comment)) == "slow bot"
        assert await conn.scalar(select(SessionNote.text)) == "Anna called back"


def test_rekey_cli_prints_counts(pg_url: str) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "TRANSCRIPT_DATABASE_URL": pg_url,
        "DATA_ENCRYPTION_KEYS": f"{KEY_B},dev:{DEFAULT_DATA_ENCRYPTION_KEY}",
    }
    done = subprocess.run(
        [sys.executable, "-m", "gateway.transcripts.rekey"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "chat_turns: 0 re-encrypted under key 'keyB', 0 left" in done.stdout


def test_production_refuses_the_development_data_keys() -> None:
    production: dict[str, Any] = {
        "app_env": "production",
        "service_token": "prod-service",
        "rasa_auth_token": "prod-rasa",
        "chat_credential_key": new_key_spec("x").split(":", 1)[1],
    }
    own_index_key = new_key_spec("x").split(":", 1)[1]
    with pytest.raises(ValueError, match="DATA_ENCRYPTION_KEYS"):
        Settings(**production, data_index_key=own_index_key)  # the development key
    with pytest.raises(ValueError, match="DATA_INDEX_KEY"):
        Settings(**production, data_encryption_keys=KEY_A)
    with pytest.raises(ValueError, match="32"):  # malformed keys fail at start, any env
        Settings(data_encryption_keys="k1:c2hvcnQ=")
    assert (
        Settings(**production, data_encryption_keys=KEY_A, data_index_key=own_index_key).app_env
        == "production"
    )


async def test_a_chat_sessions_table_from_before_encryption_is_brought_up_to_date(
    pg_url: str,
) -> None:
    """As it shipped: customer_name VARCHAR(200), no name index, a plaintext name. Start
    adds the column and widens the name; rekey encrypts and indexes the old row."""
    engine = make_engine(pg_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "CREATE TABLE chat_sessions (session_id VARCHAR(64) PRIMARY KEY,"
                    " started_at TIMESTAMPTZ, last_at TIMESTAMPTZ, turns INTEGER,"
                    " fallback BOOLEAN, handoff BOOLEAN, min_confidence FLOAT,"
                    " customer_id VARCHAR(128), customer_username VARCHAR(128),"
                    " customer_name VARCHAR(200), reviewed BOOLEAN, reviewed_by VARCHAR(128),"
                    " rating_score INTEGER, rating_comment TEXT, rated_at TIMESTAMPTZ)"
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO chat_sessions (session_id, last_at, turns, fallback, handoff,"
                    " customer_id, customer_name, reviewed) VALUES"
                    " ('s-old', now(), 1, false, false, 'c-old', 'Zoë Müller', false)"
                )
            )
        await TranscriptSchema(engine).ensure()
        [(kind,)] = await raw(
            engine,
            "SELECT data_type FROM information_schema.columns"
            " WHERE table_name = 'chat_sessions' AND column_name = 'customer_name'",
        )
        assert kind == "text"
        # Not indexed yet, but found by its name all the same (decrypt-and-filter).
        assert await search(engine, customer="zoë müller") == {"s-old"}
        cipher = encrypted.use_settings(Settings())
        counts = {c.table: (c.rekeyed, c.left) for c in await rekey(engine, cipher)}
        assert counts["chat_sessions"] == (1, 0)
        [(name,)] = await raw(engine, "SELECT customer_name FROM chat_sessions")
        assert name.startswith("v1:dev:") and "Müller" not in name
        assert await search(engine, customer="ZOË MÜLLER") == {"s-old"}
    finally:
        await engine.dispose()


async def test_rotating_the_index_key_while_the_writer_runs_loses_no_conversation(
    engine: AsyncEngine, redis_prefix: str
) -> None:
    """Name indexes made under the id-less development key; the gateways restart with
    ``DATA_INDEX_KEYS=ix2:NEW`` first and the old key after; the rekey moves the indexes
    while the transcript writer records new conversations; with the old key gone the
    console's customer filter finds every conversation, old and new."""
    client = aioredis.Redis.from_url(REDIS_URL)
    queue = TranscriptQueue(client, key_prefix=f"{redis_prefix}rotation:")
    writer = TranscriptWriter(
        redis=client, queue=queue, schema=TranscriptSchema(engine), consumer="rotation"
    )
    written: dict[str, list[str]] = {"Anna Meier": [], "Ben Rossi": []}

    async def record(name: str) -> None:
        session_id = f"{name.split()[0].lower()}-{len(written[name])}"
        written[name].append(session_id)
        await queue.enqueue(
            {
                "session_id": session_id,
                "client_msg_id": "c1",
                "customer_id": f"id-{name}",
                "customer_username": None,
                "customer_name": name,
                "user_text": "hello",
                "replies": [{"type": "bot", "seq": 2, "text": "hi"}],
                "latency_ms": 4,
                "created_at": 1_764_000_000.0,
            }
        )
        await writer.drain_once()

    await client.xgroup_create(queue.key, GROUP, id="0", mkstream=True)  # as run() does
    try:
        encrypted.use_settings(Settings())  # the id-less development index key
        for n in range(12):
            await record("Anna Meier" if n % 3 else "Ben Rossi")
        [(old_index,)] = await raw(
            engine, "SELECT customer_name_index FROM chat_sessions WHERE session_id = 'anna-0'"
        )
        assert ":" not in old_index

        cipher = encrypted.use_settings(
            Settings(data_index_keys=INDEX_2, data_index_key=DEFAULT_DATA_INDEX_KEY)
        )
        assert await search(engine, customer="anna meier") == set(written["Anna Meier"])
        assert await erasure_finds(engine, "ben ROSSI") == ["id-Ben Rossi"]  # old indexes
        stop = asyncio.Event()

        async def keep_writing() -> None:
            while not stop.is_set():
                await record("Anna Meier")

        writing = asyncio.create_task(keep_writing())
        before = len(written["Anna Meier"])
        first = await rekey(engine, cipher, batch_size=3)
        during = len(written["Anna Meier"]) - before
        stop.set()
        await writing
        second = await rekey(engine, cipher, batch_size=3)
    finally:
        await client.aclose()
    assert during > 0, "nothing was written while the rekey ran"
    assert {c.table: c.rekeyed for c in first}["chat_sessions"] >= 12
    assert all(c.left == 0 for c in second), second

    encrypted.use_settings(Settings(data_index_keys=INDEX_2))  # the old index key gone
    indexes = await raw(engine, "SELECT customer_name_index FROM chat_sessions")
    assert len(indexes) == sum(map(len, written.values()))
    assert all(index.startswith("ix2:") for (index,) in indexes)
    assert await search(engine, customer="ANNA MEIER") == set(written["Anna Meier"])
    assert await search(engine, customer="Ben Rossi") == set(written["Ben Rossi"])
    assert await erasure_finds(engine, "Anna Meier") == ["id-Anna Meier"]


async def erasure_finds(engine: AsyncEngine, customer: str) -> list[str]:
    """The customer ids an erasure by this name would erase (only the blind index
    finds a name there: no decrypt-and-filter)."""
    async with engine.connect() as conn:
        return await erasure._customer_ids(conn, customer)


def test_index_keys_come_from_data_index_keys_then_data_index_key() -> None:
    assert Settings().index_keys == DEFAULT_DATA_INDEX_KEY  # neither set: development
    old = new_key_spec("x").split(":", 1)[1]
    assert Settings(data_index_key=old).index_keys == old  # as before key ids
    both = Settings(data_index_keys=INDEX_2, data_index_key=old)
    assert [kid for kid, _ in parse_index_keys(both.index_keys)] == ["ix2", ""]
    with pytest.raises(ValueError, match="appears twice"):
        Settings(data_index_keys=f"{INDEX_2},{INDEX_2}")
    with pytest.raises(ValueError, match="non-default"):
        Settings(
            app_env="production",
            service_token="prod-service",
            rasa_auth_token="prod-rasa",
            chat_credential_key=old,
            data_encryption_keys=KEY_A,
            data_index_keys=f"{INDEX_2},{DEFAULT_DATA_INDEX_KEY}",
        )
