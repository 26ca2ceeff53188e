"""Metrics, transcripts (SQLite and PostgreSQL, via the durable Redis stream) and
handoff marking, over real sockets with real Redis."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
import redis
from sqlalchemy import create_engine, text

from gateway.settings import Settings
from gateway.transcripts.encrypted import active_cipher, name_index, open_text
from tests.gateway.conftest import ServerThread, gateway_server
from tests.gateway.test_ws import customer_token, hello, socket, turn

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def stored_json(value: Any) -> Any:
    """A JSON column's raw value (SQLite hands back its text, PostgreSQL parses it)."""
    return json.loads(value) if isinstance(value, str) and value[:1] in '"[{' else value


def opened(row: dict[str, Any]) -> dict[str, Any]:
    """A raw ``chat_turns`` row with its encrypted columns decrypted (the development
    keys the test gateways use); the stored values stay under ``stored``."""
    replies = stored_json(row["replies"])
    if isinstance(replies, str):
        replies = json.loads(active_cipher().decrypt(replies, context="chat_turns.replies"))
    texts = {k: row[k] for k in ("user_text", "reply_text") if row.get(k) is not None}
    return {
        **row,
        **{k: open_text(v, f"chat_turns.{k}") for k, v in texts.items()},
        "replies": replies,
        "stored": {**texts, "replies": stored_json(row["replies"])},
    }


def rows(url: str, session_id: str) -> list[dict[str, Any]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            result = conn.execute(
                text("SELECT * FROM chat_turns WHERE session_id = :s ORDER BY id"),
                {"s": session_id},
            )
            return [opened(dict(r._mapping)) for r in result]
    except Exception:  # table not created yet
        return []
    finally:
        engine.dispose()


def raw_query(url: str, sql: str, **params: Any) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


async def wait_rows(
    url: str, session_id: str, count: int, *, with_nlu: int = 0
) -> list[dict[str, Any]]:
    """Once ``count`` rows are written, ``with_nlu`` of them with their intent (from
    Rasa's events through the broker, which may come after the row)."""
    for _ in range(200):  # written in the background; poll, do not time it
        found = await asyncio.to_thread(rows, url, session_id)
        if len(found) >= count and sum(r["intent"] is not None for r in found) >= with_nlu:
            return found
        await asyncio.sleep(0.05)
    pytest.fail(f"no transcript rows for {session_id}")


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    name = f"gwtest_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        pytest.skip("PostgreSQL not reachable")
    admin.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.close()


async def test_metrics(gateway: ServerThread) -> None:
    async with socket(gateway) as ws:
        await hello(ws)
        await turn(ws, "count me")
        await ws.send("{broken")
        await ws.recv()
        async with httpx.AsyncClient(base_url=gateway.url) as http:
            response = await http.get("/metrics")
    assert response.status_code == 200
    body = response.text
    assert re.search(r"^gateway_sockets_open [1-9]", body, re.M)  # this one, maybe more
    assert 'gateway_turns_total{outcome="answered"}' in body
    assert "gateway_turn_latency_seconds_bucket" in body
    assert "gateway_rasa_latency_seconds_count" in body
    assert 'gateway_errors_total{code="bad_request"}' in body


async def test_transcripts_in_postgresql_with_nlu_data(
    make_settings: Callable[..., Settings],
    pg_url: str,
    redis_prefix: str,
    token_service: Any,
) -> None:
    # Own key prefix: only this instance's writer consumes this stream.
    settings = make_settings(transcript_database_url=pg_url, redis_key_prefix=f"{redis_prefix}pg:")
    with gateway_server(settings) as gw:
        async with socket(gw) as ws:
            sid = (await hello(ws, token=customer_token(token_service, "cust-tr")))["session_id"]
            await turn(ws, "pay 4111 1111 1111 1111", "t1")
            await turn(ws, "handoff please", "t2")
        found = await wait_rows(pg_url.replace("+psycopg", ""), sid, 2, with_nlu=1)
        names = await asyncio.to_thread(
            raw_query,
            pg_url.replace("+psycopg", ""),
            "SELECT customer_name, customer_name_index FROM chat_sessions WHERE session_id = :s",
            s=sid,
        )
    first, second = found
    # At rest: ciphertext under the current key, no plaintext (issue 19).
    stored = first["stored"]
    assert stored["user_text"].startswith("v1:dev:") and "pay" not in stored["user_text"]
    assert stored["reply_text"].startswith("v1:dev:") and "said" not in stored["reply_text"]
    assert isinstance(stored["replies"], str) and stored["replies"].startswith("v1:dev:")
    [(name, index)] = names
    assert name.startswith("v1:dev:") and "cust-tr" not in name
    assert index == name_index("NAME CUST-TR")
    assert first["user_text"] == "pay [card •••• 1111]"
    assert first["customer_id"] == "cust-tr"
    assert [r["text"] for r in first["replies"]] == ["you said: pay [card •••• 1111]"]
    assert (first["intent"], first["confidence"]) == ("intent_pay", 0.875)
    assert first["entities"] == [{"entity": "amount", "value": "5", "start": 0, "end": 1}]
    assert first["actions"] == ["action_echo"]
    assert first["latency_ms"] >= 0 and not first["failed"] and not first["fallback"]
    assert second["handoff"] is True


async def test_queued_transcripts_are_written_after_a_restart(
    make_settings: Callable[..., Settings],
    redis_client: redis.Redis,
    redis_prefix: str,
    tmp_path: Any,
) -> None:
    # Left in the stream by a gateway that stopped before writing it.
    prefix = f"{redis_prefix}restart:"
    entry: dict[str, Any] = {
        "session_id": "s-restart",
        "client_msg_id": "c1",
        "user_text": "hello",
        "customer_id": None,
        "replies": [],
        "failed": False,
        "handoff": False,
        "latency_ms": 12,
        "created_at": time.time(),
    }
    redis_client.xadd(f"{prefix}transcripts", {"turn": json.dumps(entry)})
    url = f"sqlite+aiosqlite:///{tmp_path}/t.sqlite3"
    with gateway_server(make_settings(transcript_database_url=url, redis_key_prefix=prefix)):
        found = await wait_rows(url.replace("+aiosqlite", ""), "s-restart", 1)
    assert (found[0]["user_text"], found[0]["latency_ms"], found[0]["intent"]) == (
        "hello",
        12,
        None,
    )  # Rasa's tracker has no such session: written without NLU


async def test_a_gift_card_code_in_a_reply_never_reaches_the_transcript(
    make_settings: Callable[..., Settings],
    redis_client: redis.Redis,
    redis_prefix: str,
    tmp_path: Any,
) -> None:
    prefix = f"{redis_prefix}receipt:"
    receipt = {
        "type": "bot",
        "seq": 3,
        "reply_to": "c1",
        "text": "Its code is 7K2P-9XQD-M4TR-0ZAB-C8NE. Keep it safe.",
    }
    entry: dict[str, Any] = {
        "session_id": "s-receipt",
        "client_msg_id": "c1",
        "user_text": "yes",
        "customer_id": "cust-1",
        "replies": [receipt],
        "failed": False,
        "handoff": False,
        "latency_ms": 40,
        "created_at": time.time(),
    }
    redis_client.xadd(f"{prefix}transcripts", {"turn": json.dumps(entry)})
    url = f"sqlite+aiosqlite:///{tmp_path}/t.sqlite3"
    with gateway_server(make_settings(transcript_database_url=url, redis_key_prefix=prefix)):
        found = await wait_rows(url.replace("+aiosqlite", ""), "s-receipt", 1)
    replies = found[0]["replies"]
    assert replies == [{**receipt, "text": "Its code is [gift card •••• C8NE]. Keep it safe."}]


async def test_handoff_frame_and_session_marked(
    gateway: ServerThread, redis_client: redis.Redis, redis_prefix: str
) -> None:
    async with socket(gateway) as ws:
        sid = (await hello(ws))["session_id"]
        got = await turn(ws, "handoff now", "h1")
    assert [f["type"] for f in got] == ["ack", "typing", "bot", "handoff", "typing"]
    bot, handoff = got[2], got[3]
    assert bot["custom"] == {"handoff": "requested"}
    assert handoff == {"type": "handoff", "seq": bot["seq"] + 1, "state": "requested"}
    assert redis_client.hget(f"{redis_prefix}chat:{sid}", "handoff") == b"requested"
    assert redis_client.sismember(f"{redis_prefix}handoff:requested", sid)
    async with socket(gateway) as ws:  # stored like any server frame: replayed on resume
        await hello(ws, session_id=sid, last_seq=bot["seq"])
        assert json.loads(await ws.recv()) == handoff


async def test_entries_of_erased_conversations_are_dropped_by_the_writer(
    make_settings: Callable[..., Settings],
    redis_client: redis.Redis,
    redis_prefix: str,
    tmp_path: Any,
) -> None:
    # A turn still on its way when its customer was erased must not come back.
    prefix = f"{redis_prefix}erased:"
    for sid in ("s-erased", "s-kept"):
        entry: dict[str, Any] = {
            "session_id": sid,
            "client_msg_id": "c1",
            "user_text": "hello",
            "customer_id": "cust-9",
            "replies": [],
            "failed": False,
            "handoff": False,
            "latency_ms": 5,
            "created_at": time.time(),
        }
        redis_client.xadd(f"{prefix}transcripts", {"turn": json.dumps(entry)})
    redis_client.sadd(f"{prefix}transcripts:erased", "s-erased")
    url = f"sqlite+aiosqlite:///{tmp_path}/t.sqlite3"
    with gateway_server(make_settings(transcript_database_url=url, redis_key_prefix=prefix)):
        await wait_rows(url.replace("+aiosqlite", ""), "s-kept", 1)  # the batch is done
    assert rows(url.replace("+aiosqlite", ""), "s-erased") == []


async def test_an_older_transcript_table_gets_the_new_column(
    make_settings: Callable[..., Settings],
    redis_prefix: str,
    tmp_path: Any,
    token_service: Any,
) -> None:
    # chat_turns as it shipped before reply_text: the writer adds the column, and the
    # console's search reads old rows' replies from the JSON instead.
    plain = f"sqlite:///{tmp_path}/old.sqlite3"
    engine = create_engine(plain)
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE chat_turns (id INTEGER PRIMARY KEY, session_id VARCHAR(64), "
                "client_msg_id VARCHAR(64), customer_id VARCHAR(128), user_text TEXT, "
                "replies JSON, intent VARCHAR(200), confidence FLOAT, entities JSON, "
                "actions JSON, fallback BOOLEAN, handoff BOOLEAN, failed BOOLEAN, "
                "latency_ms INTEGER, created_at DATETIME)"
            )
        )
        # A day old: inside the 90-day retention, which the gateway enforces as it starts
        # (a fixed date went out of retention as the calendar moved on).
        yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S.%f")
        conn.execute(
            text(
                "INSERT INTO chat_turns VALUES (1, 's-old', 'c1', 'cust-old', 'hi', "
                '\'[{"type": "bot", "seq": 2, "text": "Greetings from before"}]\', '
                "'greet', 0.9, '[]', '[]', 0, 0, 0, 10, :created_at)"
            ),
            {"created_at": yesterday},
        )
    engine.dispose()
    settings = make_settings(
        transcript_database_url=plain.replace("sqlite:", "sqlite+aiosqlite:"),
        redis_key_prefix=f"{redis_prefix}old:",
    )
    agent = token_service.issue(subject="a", username="a", display_name="A", roles=["agent"])
    with gateway_server(settings) as gw:
        async with httpx.AsyncClient(base_url=gw.url) as http:
            # The writer prepares the table in the background: a minute is ample even
            # on a loaded machine (10 s was not, with other stacks on the 2 cores).
            for _ in range(1200):
                found = await http.get(
                    "/console/api/sessions",
                    params={"q": "greetings"},
                    headers={"Authorization": f"Bearer {agent}"},
                )
                if found.status_code == 200 and found.json()["data"]:
                    break
                await asyncio.sleep(0.05)
    assert [s["session_id"] for s in found.json()["data"]] == ["s-old"]
    engine = create_engine(plain)
    with engine.connect() as conn:
        columns = [r[1] for r in conn.execute(text("PRAGMA table_info(chat_turns)"))]
    engine.dispose()
    assert "reply_text" in columns
