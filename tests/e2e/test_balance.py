"""A customer asks for the balance over the WebSocket and gets the real number, read
from core_banking's PostgreSQL database through Rasa and the action server."""

import json
import uuid
from typing import Any

import httpx
import psycopg
import pytest
from websockets.asyncio.client import ClientConnection, connect

from scripts.stack import Stack

pytestmark = pytest.mark.e2e


async def login(stack: Stack, username: str) -> str:
    async with httpx.AsyncClient(base_url=stack.urls["gateway"]) as client:
        response = await client.post(
            "/auth/token", data={"username": username, "password": "demo-password"}
        )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def ask(ws: ClientConnection, text: str) -> list[dict[str, Any]]:
    """Send one turn; return every frame up to the end of its reply (typing off)."""
    client_msg_id = uuid.uuid4().hex
    await ws.send(json.dumps({"type": "message", "client_msg_id": client_msg_id, "text": text}))
    frames: list[dict[str, Any]] = []
    while True:
        frame = json.loads(await ws.recv(decode=True))
        frames.append(frame)
        if frame["type"] == "error":
            pytest.fail(f"error frame: {frame}")
        if frame["type"] == "typing" and frame["state"] == "off":
            break
    assert frames[0] == {"type": "ack", "client_msg_id": client_msg_id, "seq": frames[0]["seq"]}
    return frames


def bot_text(frames: list[dict[str, Any]]) -> str:
    return "\n".join(f["text"] for f in frames if f["type"] == "bot" and "text" in f)


async def open_session(
    stack: Stack,
    token: str | None,
    *,
    session_id: str | None = None,
    last_seq: int | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[ClientConnection, dict]:
    ws = await connect(
        stack.urls["gateway"].replace("http", "ws") + "/ws", additional_headers=headers
    )
    hello: dict[str, Any] = {"type": "hello"}
    if token:
        hello["token"] = token
    if session_id is not None:
        hello["session_id"] = session_id
    if last_seq is not None:
        hello["last_seq"] = last_seq
    await ws.send(json.dumps(hello))
    welcome = json.loads(await ws.recv(decode=True))
    assert welcome["type"] == "welcome", welcome
    return ws, welcome


async def test_customer_gets_seeded_balances(stack: Stack) -> None:
    ws, welcome = await open_session(stack, await login(stack, "demo001"))
    async with ws:
        assert welcome["user"] and welcome["resumed"] is False
        frames = await ask(ws, "what's my balance?")
    text = bot_text(frames)
    assert "1,000.00 EUR" in text and "5,000.00 EUR" in text, text
    bot_seqs = [f["seq"] for f in frames if f["type"] == "bot"]
    assert bot_seqs == sorted(bot_seqs) and bot_seqs[0] > frames[0]["seq"]


async def test_balance_is_read_from_the_database(stack: Stack, database_url: str) -> None:
    # Change demo002's stored balance behind the service's back: the reply must follow.
    dsn = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            # available_minor is computed from balance_minor and the holds (migration 0003)
            "UPDATE accounts SET balance_minor = 123456 "
            "WHERE type = 'checking' AND customer_id = "
            "(SELECT id FROM customers WHERE username = 'demo002')"
        )
    ws, _ = await open_session(stack, await login(stack, "demo002"))
    async with ws:
        text = bot_text(await ask(ws, "how much money do I have?"))
    assert "1,234.56 EUR" in text and "5,000.00 EUR" in text, text


async def test_guest_is_asked_to_log_in(stack: Stack) -> None:
    ws, welcome = await open_session(stack, None)
    async with ws:
        assert welcome["user"] is None
        text = bot_text(await ask(ws, "what's my balance?"))
    assert "log in" in text.lower(), text
    assert "EUR" not in text
