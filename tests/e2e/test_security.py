"""Issue 13, against the whole system started for real: only the gateway answers anyone;
Rasa, its REST channel and the action server refuse callers without the stack's own
credentials, and what Rasa stores holds no usable token and no gift-card code."""

import json
import re
import socket
import subprocess
import uuid
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from scripts.stack import Stack
from tests.e2e.test_assistant import balances, press
from tests.e2e.test_balance import ask, bot_text, login, open_session

pytestmark = pytest.mark.e2e


def rasa_api(stack: Stack, token: str | None) -> httpx.AsyncClient:
    params = {"token": token} if token else {}
    return httpx.AsyncClient(base_url=stack.urls["rasa"], params=params)


async def test_rasas_http_api_refuses_callers_without_the_stacks_token(stack: Stack) -> None:
    ws, welcome = await open_session(stack, await login(stack, "demo001"))
    async with ws:
        await ask(ws, "what's my balance?")
    sid = welcome["session_id"]
    for token in (None, "guess", "dev-rasa-token-x"):
        async with rasa_api(stack, token) as rasa:
            calls = [
                rasa.get(f"/conversations/{sid}/tracker"),
                rasa.post(
                    f"/conversations/{sid}/tracker/events",
                    json=[{"event": "slot", "name": "x", "value": 1}],
                ),
                rasa.post(f"/conversations/{sid}/execute", json={"name": "action_listen"}),
                rasa.post("/model/parse", json={"text": "hello"}),
                rasa.get("/status"),
            ]
            for call in calls:
                assert (await call).status_code == 401
    async with rasa_api(stack, None) as rasa:
        assert (await rasa.get("/")).status_code == 200  # health stays open
    async with rasa_api(stack, stack.env["RASA_AUTH_TOKEN"]) as rasa:
        assert (await rasa.get(f"/conversations/{sid}/tracker")).status_code == 200


async def test_the_rest_channel_takes_messages_only_from_the_gateway(stack: Stack) -> None:
    body = {
        "sender": uuid.uuid4().hex,
        "message": "yes",
        "metadata": {"customer_id": "someone", "access_token": "stolen"},
    }
    async with httpx.AsyncClient(base_url=stack.urls["rasa"]) as rasa:
        for headers in ({}, {"X-Rasa-Token": "guess"}):
            refused = await rasa.post("/webhooks/rest/webhook", json=body, headers=headers)
            assert refused.status_code == 401


async def test_the_action_server_runs_nothing_without_rasas_credential(stack: Stack) -> None:
    forged = {
        "next_action": "action_check_balance",
        "sender_id": "victim",
        "tracker": {
            "sender_id": "victim",
            "slots": {},
            "events": [],
            "latest_message": {"text": "balance", "metadata": {}},
        },
        "domain": {},
    }
    async with httpx.AsyncClient(base_url=stack.urls["actions"]) as actions:
        assert (await actions.get("/health")).status_code == 200
        for headers in ({}, {"X-Action-Token": "guess"}):
            response = await actions.post("/webhook", json=forged, headers=headers)
            assert response.status_code == 401
            assert "events" not in response.text


def test_internal_services_listen_on_loopback_only(stack: Stack) -> None:
    """make run binds core_banking, Rasa and the action server to 127.0.0.1."""
    shown = subprocess.run(["hostname", "-I"], capture_output=True, text=True, check=False)
    addresses = [a for a in shown.stdout.split() if "." in a and not a.startswith("127.")]
    if not addresses:
        pytest.skip("this machine has no address besides loopback to try")
    for name in ("core_banking", "rasa", "actions"):
        port = int(stack.urls[name].rsplit(":", 1)[1])
        with socket.socket() as probe:
            probe.settimeout(2)
            assert probe.connect_ex((addresses[0], port)) != 0, f"{name} answers on {addresses[0]}"


async def tracker(stack: Stack, sid: str) -> dict[str, Any]:
    async with rasa_api(stack, stack.env["RASA_AUTH_TOKEN"]) as rasa:
        response = await rasa.get(f"/conversations/{sid}/tracker")
    assert response.status_code == 200
    return dict(response.json())


async def test_stored_trackers_hold_no_usable_token_and_no_gift_card_code(stack: Stack) -> None:
    token = await login(stack, "demo002")
    before = await balances(stack, token)
    ws, welcome = await open_session(stack, token)
    sid = welcome["session_id"]
    async with ws:
        asked = bot_text(await ask(ws, "buy a 15 euro gift card for Maria"))
        assert "message" in asked, asked
        summary = bot_text(await press(ws, "/deny"))  # the "No message" button
        assert "Please confirm" in summary and "15.00 EUR" in summary, summary
        receipt = bot_text(await press(ws, "/affirm"))
    match = re.search(r"Its code is ([0-9A-Z-]{20,})", receipt)
    assert match, receipt  # shown once, live, in clear
    code = match.group(1)
    assert (await balances(stack, token))["checking"] == before["checking"] - 1500

    stored = json.dumps(await tracker(stack, sid))
    assert code not in stored and code.replace("-", "") not in stored
    assert "eyJ" not in stored  # no JWT in clear anywhere in the tracker
    for event in (await tracker(stack, sid))["events"]:
        if event.get("event") == "user":
            metadata = event.get("metadata") or {}
            assert "access_token" not in metadata
            assert metadata.get("credential")
            # Sealed with the stack's key: another key opens nothing.
            with pytest.raises(Exception):  # noqa: B017 (InvalidToken)
                Fernet(Fernet.generate_key()).decrypt(metadata["credential"].encode())

    # A reload resumes the session: the receipt comes back with the last four only.
    ws, _ = await open_session(stack, token, session_id=sid, last_seq=0)
    async with ws:
        replayed: list[dict[str, Any]] = []
        while not any(
            f["type"] == "bot" and "gift card ••••" in f.get("text", "") for f in replayed
        ):
            replayed.append(json.loads(await ws.recv(decode=True)))
    assert code not in json.dumps(replayed)
