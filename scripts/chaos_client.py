"""The chaos run's customers (scripts/chaos.py): widget-like clients that log in once
per customer, resume a dropped socket (``hello`` with ``session_id`` and ``last_seq``)
and send the unanswered turn again with the same ``client_msg_id`` (the gateway acks it
again and never runs it twice)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

TURN_TIMEOUT = 240.0  # a turn may wait for a Rasa that is starting again


@dataclass
class Turn:
    cmid: str
    text: str
    acked: bool = False
    replies: dict[int, str] = field(default_factory=dict)  # seq -> text
    errors: list[str] = field(default_factory=list)


@dataclass
class Conversation:
    number: int
    customer: str
    amount: int  # euros, unique for this customer
    session_id: str = ""
    turns: list[Turn] = field(default_factory=list)
    reconnects: int = 0
    failure: str = ""


class Client:
    """One customer's widget: resumes after a dropped socket and resends the pending
    turn with the same client_msg_id."""

    def __init__(self, ws_url: str, token: str, chat: Conversation) -> None:
        self.ws_url = ws_url
        self.token = token
        self.chat = chat
        self.ws: ClientConnection | None = None
        self.last_seq = 0

    async def open(self) -> None:
        for _ in range(60):
            try:
                self.ws = await connect(self.ws_url, open_timeout=10)
                hello: dict[str, Any] = {"type": "hello", "token": self.token}
                if self.chat.session_id:
                    hello |= {"session_id": self.chat.session_id, "last_seq": self.last_seq}
                await self.ws.send(json.dumps(hello))
                welcome = json.loads(await asyncio.wait_for(self.ws.recv(), 15))
                if welcome.get("type") != "welcome":
                    raise ConnectionError(f"no welcome: {welcome}")
                self.chat.session_id = welcome["session_id"]
                return
            except (OSError, WebSocketException, TimeoutError, ConnectionError):
                await asyncio.sleep(1.0)
        raise ConnectionError("could not reconnect in 60 tries")

    async def say(self, turn: Turn) -> None:
        deadline = time.monotonic() + TURN_TIMEOUT
        while time.monotonic() < deadline:
            try:
                assert self.ws is not None
                await self.ws.send(
                    json.dumps({"type": "message", "client_msg_id": turn.cmid, "text": turn.text})
                )
                if await self._until_answered(turn, deadline):
                    return
            except (OSError, WebSocketException, TimeoutError):
                self.chat.reconnects += 1
                await self.open()  # resumes: missed frames come first, then we resend
        turn.errors.append("timeout")

    async def _until_answered(self, turn: Turn, deadline: float) -> bool:
        assert self.ws is not None
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            # Replies re-sent for a repeated client_msg_id come without `typing`: once
            # the turn has replies, a quiet socket means it is done.
            wait = min(left, 5.0) if turn.replies else left
            try:
                frame = json.loads(await asyncio.wait_for(self.ws.recv(), wait))
            except TimeoutError:
                if turn.replies:
                    return True
                raise
            seq = frame.get("seq")
            if isinstance(seq, int):
                self.last_seq = max(self.last_seq, seq)
            kind = frame.get("type")
            if kind == "ack" and frame.get("client_msg_id") == turn.cmid:
                turn.acked = True
            elif kind == "bot" and frame.get("reply_to") == turn.cmid:
                turn.replies[int(seq)] = str(frame.get("text") or "")
            elif kind == "error" and frame.get("client_msg_id") in (turn.cmid, None):
                turn.errors.append(str(frame.get("code")))
                if frame.get("code") not in ("unavailable",):
                    return True  # refused for good (rate_limited, bad_request …)
            elif kind == "typing" and frame.get("state") == "off" and turn.replies:
                return True


def script(amount: int) -> list[str]:
    return [
        "hi",
        "what's my balance?",
        f"send {amount} euros to my savings account",
        "yes",
        "what's my balance now?",
    ]


class Tokens:
    """One login per customer, reused for ten minutes (access tokens last 15): a login
    is an Argon2 verification in core_banking, far dearer than a turn, and a stampede
    of them would measure the password hash instead of the chat."""

    def __init__(self, base: str, password: str) -> None:
        self.base = base
        self.password = password
        self.cache: dict[str, tuple[float, str]] = {}
        self.locks: dict[str, asyncio.Lock] = {}

    async def of(self, customer: str) -> str:
        async with self.locks.setdefault(customer, asyncio.Lock()):
            at, token = self.cache.get(customer, (0.0, ""))
            if time.monotonic() - at < 600:
                return token
            async with httpx.AsyncClient(base_url=self.base, timeout=30) as http:
                for attempt in range(10):  # a gateway may be down for a moment
                    try:
                        response = await http.post(
                            "/auth/token", data={"username": customer, "password": self.password}
                        )
                        if response.status_code == 200:
                            token = str(response.json()["access_token"])
                            self.cache[customer] = (time.monotonic(), token)
                            return token
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(2.0 * (attempt + 1))
            raise ConnectionError(f"{customer} could not log in")


async def converse(base: str, chat: Conversation, tokens: Tokens) -> None:
    try:
        token = await tokens.of(chat.customer)
        client = Client(base.replace("http", "ws") + "/ws", token, chat)
        await client.open()
        for text in script(chat.amount):
            turn = Turn(uuid.uuid4().hex, text)
            chat.turns.append(turn)
            await client.say(turn)
        if client.ws is not None:
            await client.ws.close()
    except Exception as exc:
        chat.failure = repr(exc)
