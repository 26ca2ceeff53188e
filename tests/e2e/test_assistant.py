"""Conversations with the real assistant over the WebSocket: support answers, the
contract's NLU output, a transfer with confirmation, digression and cancel, handoff."""

import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from websockets.asyncio.client import ClientConnection

from scripts.stack import Stack
from tests.e2e.test_balance import ask, bot_text, login, open_session

pytestmark = pytest.mark.e2e
SUPPORT = yaml.safe_load((Path(__file__).parents[2] / "bot/domain/support.yml").read_text())


def answers_for(label: str) -> list[str]:
    return [" ".join(v["text"].split()) for v in SUPPORT["responses"][f"utter_{label}"]]


async def press(ws: ClientConnection, payload: str) -> list[dict[str, Any]]:
    """Click a button: send its payload as one turn."""
    client_msg_id = uuid.uuid4().hex
    await ws.send(
        json.dumps({"type": "message", "client_msg_id": client_msg_id, "payload": payload})
    )
    frames = []
    while True:
        frame = json.loads(await ws.recv(decode=True))
        frames.append(frame)
        if frame["type"] == "typing" and frame["state"] == "off":
            return frames


async def balances(stack: Stack, token: str) -> dict[str, int]:
    async with httpx.AsyncClient(base_url=stack.urls["core_banking"]) as client:
        response = await client.get("/v1/accounts", headers={"Authorization": f"Bearer {token}"})
    return {a["type"]: a["balance_minor"] for a in response.json()["data"]}


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("my new card still hasn't shown up, where is it?", "card_arrival"),
        ("someone stole my card last night", "lost_or_stolen_card"),
        ("what is the exchange rate you use?", "exchange_rate"),
    ],
)
async def test_guest_gets_the_support_answer(stack: Stack, text: str, label: str) -> None:
    ws, _ = await open_session(stack, None)
    async with ws:
        frames = await ask(ws, text)
    replies = [" ".join(f["text"].split()) for f in frames if f["type"] == "bot" and "text" in f]
    assert any(r in answers_for(label) for r in replies), replies


async def test_model_parse_follows_the_contract(stack: Stack) -> None:
    # Rasa's HTTP API needs the stack's credential (CONTRACT.md); see test_security.py.
    async with httpx.AsyncClient(
        base_url=stack.urls["rasa"], params={"token": stack.env["RASA_AUTH_TOKEN"]}
    ) as client:
        card = (
            await client.post("/model/parse", json={"text": "how do I activate my card"})
        ).json()
        weather = (
            await client.post("/model/parse", json={"text": "will it rain in Paris tomorrow?"})
        ).json()
    assert card["intent"]["name"] == "activate_my_card"
    name = weather["intent"]["name"]
    assert name == "nlu_fallback" or name.startswith("out_of_scope"), weather["intent"]


async def test_transfer_with_digression_then_confirmation(stack: Stack) -> None:
    token = await login(stack, "demo003")
    before = await balances(stack, token)
    ws, _ = await open_session(stack, token)
    async with ws:
        who = bot_text(await ask(ws, "I need to send money"))
        assert "who would you like to send money to" in who.lower(), who
        asked = bot_text(await ask(ws, "to my savings account"))
        assert "how much" in asked.lower(), asked
        digression = bot_text(await ask(ws, "what's my balance?"))
        assert "EUR" in digression and "how much" in digression.lower(), digression
        summary = await ask(ws, "40 euros")
        summary_frame = next(f for f in summary if f["type"] == "bot" and f.get("buttons"))
        assert "40.00 EUR" in summary_frame["text"], summary_frame
        done = bot_text(await press(ws, "/affirm"))
    assert "40.00 EUR sent" in done, done
    after = await balances(stack, token)
    assert after["checking"] == before["checking"] - 4000
    assert after["savings"] == before["savings"] + 4000


async def test_a_new_amount_at_the_summary_replaces_the_old_one(stack: Stack) -> None:
    token = await login(stack, "demo003")
    before = await balances(stack, token)
    ws, _ = await open_session(stack, token)
    async with ws:
        first = bot_text(await ask(ws, "send 30 euros to my savings account"))
        assert "30.00 EUR" in first, first
        corrected = bot_text(await ask(ws, "no, make it 35 euros"))
        assert "35.00 EUR" in corrected and "30.00 EUR" not in corrected, corrected
        done = bot_text(await press(ws, "/affirm"))
    assert "35.00 EUR sent" in done, done
    after = await balances(stack, token)
    assert after["savings"] == before["savings"] + 3500


async def test_lost_card_answer_then_report_it_stolen_for_good(stack: Stack) -> None:
    token = await login(stack, "demo002")
    ws, _ = await open_session(stack, token)
    async with ws:
        answer = await ask(ws, "my card was stolen")
        offer = next(f for f in answer if f["type"] == "bot" and f.get("buttons"))
        assert "/report_lost_card" in [b["payload"] for b in offer["buttons"]], offer
        confirm = bot_text(await press(ws, "/report_lost_card"))
        assert "as stolen" in confirm and "for good" in confirm, confirm
        done = bot_text(await ask(ws, "yes"))
    assert "is cancelled (reported stolen)" in done and "replacement card" in done, done
    async with httpx.AsyncClient(base_url=stack.urls["core_banking"]) as http:
        listed = await http.get("/v1/cards", headers={"Authorization": f"Bearer {token}"})
    statuses = sorted(c["status"] for c in listed.json()["data"])
    assert statuses == ["active", "stolen"], statuses


async def test_a_typed_yes_takes_up_the_offered_freeze(stack: Stack) -> None:
    token = await login(stack, "demo001")
    ws, _ = await open_session(stack, token)
    async with ws:
        await ask(ws, "I lost my card")
        frozen = bot_text(await ask(ws, "yes please"))
        assert "is frozen" in frozen, frozen
        unfrozen = bot_text(await ask(ws, "unfreeze my card"))
    assert "works again" in unfrozen, unfrozen


async def test_cancel_in_the_middle_of_a_transfer(stack: Stack) -> None:
    token = await login(stack, "demo003")
    before = await balances(stack, token)
    ws, _ = await open_session(stack, token)
    async with ws:
        await ask(ws, "send 15 to my savings")
        cancelled = bot_text(await ask(ws, "never mind, cancel that"))
        again = bot_text(await ask(ws, "what's my balance"))
    assert "cancelled" in cancelled.lower(), cancelled
    assert "confirm" not in again.lower()
    assert await balances(stack, token) == before


async def test_asking_for_a_human_sends_a_handoff_frame(stack: Stack) -> None:
    ws, _ = await open_session(stack, await login(stack, "demo001"))
    async with ws:
        frames = await ask(ws, "I want to talk to a real person")
    handoffs = [f for f in frames if f["type"] == "handoff"]
    assert handoffs and handoffs[0]["state"] == "requested", frames
    # The customer is told where they stand (the action asks the gateway's queue).
    assert re.search(r"You're number \d+ in the queue", bot_text(frames)), frames


async def test_out_of_scope_is_declined_politely(stack: Stack) -> None:
    ws, _ = await open_session(stack, None)
    async with ws:
        text = bot_text(await ask(ws, "can you recommend a good lasagne recipe?"))
    assert "outside what I can help with" in text or "not sure I understood" in text, text


async def test_guest_checks_a_gift_card_without_seeing_the_code_echoed(stack: Stack) -> None:
    token = await login(stack, "demo002")
    async with httpx.AsyncClient(base_url=stack.urls["core_banking"]) as client:
        headers = {"Authorization": f"Bearer {token}"}
        source = next(
            a
            for a in (await client.get("/v1/accounts", headers=headers)).json()["data"]
            if a["type"] == "checking"
        )
        bought = await client.post(
            "/v1/gift-cards",
            json={
                "from_account_id": source["id"],
                "amount_minor": 2500,
                "currency": "EUR",
            },
            headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
        )
    code = bought.json()["code"]
    ws, _ = await open_session(stack, None)
    async with ws:
        frames = await ask(ws, f"what's the balance on gift card {code}?")
    text = bot_text(frames)
    assert "25.00 EUR" in text, text
    assert code not in json.dumps(frames) and code.replace("-", "") not in json.dumps(frames)


async def test_a_typed_card_number_is_masked_and_warned_about(stack: Stack) -> None:
    ws, _ = await open_session(stack, None)
    async with ws:
        frames = await ask(ws, "my card number is 4111 1111 1111 1111, can you check it?")
    text = bot_text(frames)
    assert "never type your full card number" in text, text
    assert "4111 1111" not in json.dumps(frames)


async def test_a_correction_at_the_summary_changes_the_recipient(stack: Stack) -> None:
    """Issue 14: "sorry i meant city housing not alpine" was "outside what I can help
    with", then the Alpine Energy summary again; now the summary shows City Housing."""
    token = await login(stack, "demo003")  # demo001's balance is checked as seeded
    before = await balances(stack, token)
    ws, _ = await open_session(stack, token)
    async with ws:
        first = bot_text(await ask(ws, "send 15 to alpine energy"))
        assert "Alpine Energy" in first and "15.00 EUR" in first, first
        corrected = bot_text(await ask(ws, "sorry i meant city housing not alpine"))
        assert "City Housing" in corrected and "15.00 EUR" in corrected, corrected
        assert "Alpine" not in corrected, corrected
        done = bot_text(await press(ws, "/affirm"))
    assert "15.00 EUR" in done, done
    assert (await balances(stack, token))["checking"] == before["checking"] - 1500


@pytest.mark.parametrize(
    ("language", "reading"),
    [("de-DE,de;q=0.9", "1,100.00"), ("en-GB,en;q=0.9", "1.10"), (None, None)],
)
async def test_the_browsers_language_decides_how_1_100_is_read(
    stack: Stack, language: str | None, reading: str | None
) -> None:
    """A German customer's "1.100" is 1,100.00 and an English one's 1.10; with no
    language known the assistant asks which was meant, and never guesses. (demo001: no
    money moves here, and its balance stays as seeded for the other tests.)"""
    token = await login(stack, "demo001")
    headers = {"Accept-Language": language} if language else None
    ws, _ = await open_session(stack, token, headers=headers)
    async with ws:
        replies = bot_text(await ask(ws, "send 1.100 euros from checking to savings"))
        await ask(ws, "cancel")
    if reading is None:
        assert "1,100.00" in replies and "1.10" in replies, replies  # both offered
    elif reading == "1.10":
        assert "1.10 EUR" in replies and "1,100.00" not in replies, replies
    else:
        # 1,100.00: the summary, or "more than the … available" when it exceeds the
        # balance; never the 1.10 reading, nor the question which one was meant.
        assert "1.10 EUR" not in replies and "Did you mean" not in replies, replies
        assert "1,100.00 EUR" in replies or "more than the" in replies, replies
