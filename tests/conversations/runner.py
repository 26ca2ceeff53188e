"""Plays conversations against the real gateway WebSocket (CONTRACT.md) and checks each
reply and, through core_banking, each effect. Returns an Outcome per conversation whose
report is the transcript up to the first failed check."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from tests.conversations.customer import CoreBanking, differences
from tests.conversations.spec import Conversation, Expect, Turn
from tests.totp import current_code

DEMO_PASSWORD = "demo-password"  # CONTRACT.md "make seed"
TURN_TIMEOUT_SECONDS = 120.0  # a hung turn fails its conversation instead of the suite


@dataclass
class Outcome:
    conversation_id: str
    ok: bool = True
    transcript: list[str] = field(default_factory=list)
    failure: str = ""
    seconds: float = 0.0
    turns: int = 0

    def report(self) -> str:
        return "\n".join([*self.transcript, "", f"FAILED: {self.failure}"])


class CheckFailed(AssertionError):
    pass


@dataclass(frozen=True)
class Urls:
    gateway: str
    core_banking: str


def username(number: int) -> str:
    return f"demo{number:03d}"


async def login(urls: Urls, user: str) -> str:
    async with httpx.AsyncClient(base_url=urls.gateway, timeout=30) as client:
        response = await client.post(
            "/auth/token", data={"username": user, "password": DEMO_PASSWORD}
        )
    response.raise_for_status()
    return str(response.json()["access_token"])


async def open_chat(urls: Urls, token: str | None) -> ClientConnection:
    ws = await connect(urls.gateway.replace("http", "ws", 1) + "/ws")
    await ws.send(json.dumps({"type": "hello", **({"token": token} if token else {})}))
    welcome = json.loads(await ws.recv(decode=True))
    if welcome.get("type") != "welcome":
        raise CheckFailed(f"no welcome frame: {welcome}")
    return ws


async def send_turn(ws: ClientConnection, turn: Turn, gift_code: str | None) -> list[dict]:
    """One user turn (text or button); every frame up to the end of its reply."""
    message: dict[str, Any] = {"type": "message", "client_msg_id": uuid.uuid4().hex}
    if turn.user is not None:
        text = turn.user.replace("{totp}", current_code())
        message["text"] = text.replace("{gift_code}", gift_code or "")
    else:
        message["payload"] = turn.payload
    await ws.send(json.dumps(message))
    frames: list[dict] = []
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(decode=True), TURN_TIMEOUT_SECONDS))
        frames.append(frame)
        if frame["type"] == "error":
            raise CheckFailed(f"error frame: {frame}")
        if frame["type"] == "typing" and frame["state"] == "off":
            return frames


def normalised(text: str) -> str:
    return " ".join(text.split()).lower()


def check_reply(expect: Expect, frames: list[dict]) -> list[str]:
    bots = [f for f in frames if f["type"] == "bot"]
    text = normalised("\n".join(f.get("text", "") for f in bots))
    payloads = [b["payload"] for f in bots for b in f.get("buttons") or []]
    problems = [f"does not contain {c!r}" for c in expect.contains if normalised(c) not in text]
    problems += [f"contains {c!r}" for c in expect.not_contains if normalised(c) in text]
    problems += [
        f"does not match /{p}/" for p in expect.matches if not re.search(p, text, re.I | re.S)
    ]
    problems += [f"matches /{p}/" for p in expect.not_matches if re.search(p, text, re.I | re.S)]
    for wanted in expect.buttons:
        if not any(p == wanted or p.startswith(wanted) for p in payloads):
            problems.append(f"no button {wanted!r} (buttons: {payloads})")
    handoffs = [f for f in frames if f["type"] == "handoff" and f.get("state") == "requested"]
    if expect.handoff is True and not handoffs:
        problems.append("no handoff frame")
    if expect.handoff is False and handoffs:
        problems.append("a handoff was requested")
    return problems


def bot_lines(frames: list[dict]) -> list[str]:
    lines = []
    for frame in frames:
        if frame["type"] == "bot":
            buttons = [b["payload"] for b in frame.get("buttons") or []]
            shown = " ".join(frame.get("text", "").split())
            lines.append(
                f"  bot: {shown}" + (f"  [buttons: {', '.join(buttons)}]" if buttons else "")
            )
        elif frame["type"] == "handoff":
            lines.append(f"  (handoff {frame.get('state')})")
    return lines


async def play(urls: Urls, conversation: Conversation) -> Outcome:
    outcome = Outcome(conversation.id)
    started = time.monotonic()
    bank: CoreBanking | None = None
    try:
        token = None
        gift_card_id = gift_code = None
        user = username(conversation.customer_number or 0)
        who = "guest" if conversation.guest else user
        outcome.transcript.append(f"[{conversation.file}: {conversation.id}, {who}]")
        if conversation.customer_number is not None:
            token = await login(urls, user)
            bank = CoreBanking(urls.core_banking, token)
            if conversation.gift_card_minor is not None:
                gift_card_id, gift_code = await bank.buy_gift_card(conversation.gift_card_minor)
        start = await bank.state() if bank else None
        ws = await open_chat(urls, None if conversation.guest else token)
        async with ws:
            for number, turn in enumerate(conversation.turns, 1):
                outcome.transcript.append(f"you: {turn.said}")
                frames = await send_turn(ws, turn, gift_code)
                outcome.turns += 1
                outcome.transcript += bot_lines(frames)
                problems = check_reply(turn.expect, frames)
                if turn.effect is not None and bank is not None and start is not None:
                    now = await bank.state()
                    problems += differences(turn.effect, start, now, gift_card_id)
                if problems:
                    raise CheckFailed(f"turn {number}: " + "; ".join(problems))
        if bank is not None and start is not None:
            final = await bank.state()
            problems = differences(conversation.final_effect(), start, final, gift_card_id)
            if problems:
                raise CheckFailed("at the end: " + "; ".join(problems))
    except (CheckFailed, TimeoutError, httpx.HTTPError, OSError, WebSocketException) as error:
        outcome.ok = False
        outcome.failure = str(error) or type(error).__name__
    finally:
        if bank is not None:
            await bank.aclose()
        outcome.seconds = time.monotonic() - started
    return outcome


async def play_all(
    urls: Urls, conversations: list[Conversation], concurrency: int
) -> dict[str, Outcome]:
    """Each conversation has its own customer and session, so several can run at once."""
    gate = asyncio.Semaphore(concurrency)

    async def one(conversation: Conversation) -> Outcome:
        async with gate:
            return await play(urls, conversation)

    outcomes = await asyncio.gather(*(one(c) for c in conversations))
    return {o.conversation_id: o for o in outcomes}
