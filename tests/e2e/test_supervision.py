"""`make run` supervises what it starts (CONTRACT.md, issue 16): Rasa or the action server
killed with SIGKILL in the middle of a transfer is started again, and the customer's
"yes" completes exactly that transfer, because Rasa's trackers and locks live in Redis."""

import asyncio
import json
import os
import signal
import time
import uuid
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection

from scripts.stack import Stack
from tests.e2e.test_assistant import balances
from tests.e2e.test_balance import ask, bot_text, login, open_session

pytestmark = pytest.mark.e2e


async def until_answered(ws: ClientConnection, client_msg_id: str) -> list[dict[str, Any]]:
    """Every frame up to the turn's last reply (errors such as `unavailable` included)."""
    frames: list[dict[str, Any]] = []
    answered = False
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(decode=True), 240))
        frames.append(frame)
        answered = answered or (frame["type"] == "bot" and frame["reply_to"] == client_msg_id)
        if answered and frame["type"] == "typing" and frame["state"] == "off":
            return frames


def kill(stack: Stack, name: str) -> int:
    service = next(s for s in stack.services if s.name == name)
    assert service.process is not None
    pid = service.process.pid
    os.killpg(pid, signal.SIGKILL)
    service.process.wait()
    return pid


async def healthy_again(stack: Stack, name: str, old_pid: int) -> None:
    service = next(s for s in stack.services if s.name == name)
    deadline = time.monotonic() + 300
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            if service.process is not None and service.process.pid != old_pid:
                try:
                    if (await http.get(service.health_url)).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
            await asyncio.sleep(0.5)
    pytest.fail(f"{name} was not started again")


async def summary_of_transfer(ws: ClientConnection, amount: str) -> str:
    text = bot_text(await ask(ws, f"send {amount} euros to my savings account"))
    assert "Please confirm" in text or "confirm" in text.lower(), text
    assert f"{amount}.00 EUR" in text, text
    return text


@pytest.mark.parametrize("victim", ["rasa", "actions"])
async def test_a_service_killed_mid_transfer_comes_back_and_yes_completes_it(
    stack: Stack, victim: str
) -> None:
    supervisor = stack.supervise_in_background()
    try:
        token = await login(stack, "demo002")
        before = await balances(stack, token)
        amount = {"rasa": "23", "actions": "17"}[victim]
        ws, _ = await open_session(stack, token)
        async with ws:
            await summary_of_transfer(ws, amount)
            old_pid = kill(stack, victim)
            if victim == "actions":
                # Wait for it: a "yes" while the action server is down would be answered
                # with "the bank could not be reached" and the transfer dropped.
                await healthy_again(stack, victim, old_pid)
            # The customer's yes, sent while Rasa may still be down: acknowledged at once,
            # kept, and answered once Rasa is back (the gateway retries it).
            cmid = uuid.uuid4().hex
            await ws.send(
                json.dumps({"type": "message", "client_msg_id": cmid, "payload": "/affirm"})
            )
            frames = await until_answered(ws, cmid)
        assert frames[0] == {"type": "ack", "client_msg_id": cmid, "seq": frames[0]["seq"]}
        replies = [f for f in frames if f["type"] == "bot"]
        assert len(replies) >= 1 and all(f["reply_to"] == cmid for f in replies)
        after = await balances(stack, token)
        cents = int(amount) * 100
        assert (after["checking"], after["savings"]) == (
            before["checking"] - cents,
            before["savings"] + cents,
        ), bot_text(frames)
        await healthy_again(stack, victim, old_pid)
    finally:
        supervisor.set()
