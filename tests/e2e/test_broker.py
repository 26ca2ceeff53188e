"""Transcripts through Rasa's event broker (issue 16), on the whole running system with
the real model: every turn's intent and confidence in the staff console come from the
events Rasa published to RabbitMQ (no tracker polling); what Rasa saw is masked, the
sealed credential never reaches a transcript; trackers expire (TTL) and an erasure
removes the customer's trackers, sessions, transcripts and stored events."""

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis

from gateway.transcripts.encrypted import open_text
from scripts.stack import Stack
from tests.e2e.conftest import stack_env, started, trained_model
from tests.e2e.test_balance import ask, bot_text, login, open_session
from tests.support import delete_broker_objects, fresh_postgres_database

pytestmark = pytest.mark.e2e
TTL = 3600


@pytest.fixture(scope="module")
def broker_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack whose transcripts are in PostgreSQL (read directly below)."""
    with fresh_postgres_database("broker_e2e") as database_url:
        env = stack_env(
            database_url,
            tmp_path_factory.mktemp("broker-keys"),
            TRANSCRIPT_DATABASE_URL=database_url,
            RASA_TRACKER_TTL_SECONDS=str(TTL),
        )
        log_dir = Path(tmp_path_factory.mktemp("broker-logs"))
        stack = Stack(trained_model(), env=env, log_dir=log_dir)
        stack.prepare_database(seed_customers=3)
        try:
            yield started(stack, log_dir)
        finally:
            stack.stop()
            asyncio.run(delete_broker_objects(stack.env))


@pytest.fixture
async def console(broker_stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=broker_stack.urls["gateway"]) as http:
        token = (
            await http.post(
                "/auth/token", data={"username": "supervisor1", "password": "staff-password"}
            )
        ).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        yield http


def events_of(stack: Stack, session_id: str) -> list[dict[str, Any]]:
    dsn = stack.env["TRANSCRIPT_DATABASE_URL"].replace("+psycopg", "")
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT kind, name, text, data::text FROM rasa_events WHERE session_id = %s "
            "ORDER BY at, seq",
            (session_id,),
        )
        # Text and data are encrypted at rest (the stack runs with the dev keys).
        return [
            {
                "kind": kind,
                "name": name,
                "text": open_text(text, "rasa_events.text") if text else text,
                "data": open_text(json.loads(data), "rasa_events.data") if data else data,
                "raw": (text, data),
            }
            for kind, name, text, data in rows
        ]


async def complete_transcript(
    console: httpx.AsyncClient, session_id: str, turns: int
) -> list[dict[str, Any]]:
    """The transcript once every turn has its intent (written in the background)."""
    for _ in range(600):
        response = await console.get(f"/console/api/sessions/{session_id}/transcript")
        data = response.json()["data"] if response.status_code == 200 else []
        if len(data) == turns and all(t["intent"] for t in data):
            return list(data)
        await asyncio.sleep(0.2)
    pytest.fail(f"transcript of {session_id} never complete: {data}")


async def test_every_turn_has_its_nlu_from_the_broker(
    broker_stack: Stack, console: httpx.AsyncClient
) -> None:
    ws, welcome = await open_session(broker_stack, await login(broker_stack, "demo001"))
    sid = welcome["session_id"]
    async with ws:
        await ask(ws, "hi")
        assert "EUR" in bot_text(await ask(ws, "what's my balance?"))
        await ask(ws, "is my card 4111 1111 1111 1111 blocked?")
    turns = await complete_transcript(console, sid, 3)
    assert [t["intent"] for t in turns[:2]] == ["greet", "check_balance"]
    assert all(0 < t["confidence"] <= 1 for t in turns)
    assert "4111 1111" not in turns[2]["user_text"] and "1111" in turns[2]["user_text"]
    events = events_of(broker_stack, sid)
    users = [e for e in events if e["kind"] == "user"]
    assert [u["name"] for u in users[:2]] == ["greet", "check_balance"]
    assert any(e["kind"] == "bot" and "EUR" in (e["text"] or "") for e in events)
    assert any(e["kind"] == "action" for e in events)
    stored = repr(events)
    assert all(e["raw"][0].startswith("v1:") for e in events if e["raw"][0])  # at rest
    assert "4111 1111" not in stored  # Rasa only ever saw the masked text
    assert "credential" not in stored and "gAAAA" not in stored  # no sealed token
    # The tracker in Redis expires by the configured policy.
    client = redis.Redis.from_url(broker_stack.env["REDIS_URL"])
    keys = list(client.scan_iter(match=f"{broker_stack.env['RASA_REDIS_KEY_PREFIX']}*{sid}*"))
    assert keys and all(0 < client.ttl(k) <= TTL for k in keys)
    client.close()


async def test_erasure_removes_trackers_sessions_transcripts_and_events(
    broker_stack: Stack, console: httpx.AsyncClient
) -> None:
    ws, welcome = await open_session(broker_stack, await login(broker_stack, "demo002"))
    sid = welcome["session_id"]
    async with ws:
        await ask(ws, "what's my balance?")
    await complete_transcript(console, sid, 1)
    assert events_of(broker_stack, sid)
    erased = await console.delete("/console/api/customers/demo002/conversations")
    assert erased.status_code == 200 and erased.json()["erased_sessions"] >= 1
    assert events_of(broker_stack, sid) == []
    transcript = await console.get(f"/console/api/sessions/{sid}/transcript")
    assert transcript.json()["data"] == []
    client = redis.Redis.from_url(broker_stack.env["REDIS_URL"])
    # Rasa's tracker and the gateway's session (a rate-limit bucket, a counter that
    # expires within seconds, may outlive it).
    patterns = (
        f"{broker_stack.env['RASA_REDIS_KEY_PREFIX']}*{sid}*",
        f"{broker_stack.env['REDIS_KEY_PREFIX']}*chat:{sid}*",
    )
    assert not [k for p in patterns for k in client.scan_iter(match=p)]
    client.close()
