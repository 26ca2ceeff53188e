from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text, update

from core_banking.gift_cards import codes
from core_banking.models import GiftCard
from core_banking.models.base import utcnow
from tests.core_banking.helpers import (
    Customer,
    SessionFactory,
    accounts,
    assert_problem,
    count,
    login,
    system_balance,
    total_per_currency,
)

pytestmark = pytest.mark.parametrize("settings", ["postgresql"], indirect=True)
CODE_FORMAT = re.compile(r"^([0-9A-HJKMNP-TV-Z]{4}-){4}[0-9A-HJKMNP-TV-Z]{4}$")


@pytest.fixture
async def demo(
    seeded: Any, session_factory: SessionFactory, sign: Callable[..., str]
) -> list[Customer]:
    return [await login(session_factory, sign, f"demo00{n}") for n in (1, 2, 3)]


async def buy(
    client: httpx.AsyncClient, who: Customer, amount: int, key: str | None = None
) -> httpx.Response:
    source = (await accounts(client, who))["checking"]["id"]
    body = {
        "from_account_id": source,
        "amount_minor": amount,
        "currency": "EUR",
        "recipient_name": "Grandma",
        "message": "Happy birthday",
    }
    return await client.post("/v1/gift-cards", json=body, headers=who.with_key(key))


async def redeem(
    client: httpx.AsyncClient, who: Customer, code: str, amount: int | None = None, **extra: Any
) -> httpx.Response:
    target = (await accounts(client, who))["checking"]["id"]
    body: dict[str, Any] = {"code": code, "to_account_id": target, **extra}
    if amount is not None:
        body["amount_minor"] = amount
    return await client.post("/v1/gift-cards/redeem", json=body, headers=who.with_key())


async def test_buy_check_balance_and_redeem_partially(
    client: httpx.AsyncClient, demo: list[Customer], session_factory: SessionFactory
) -> None:
    buyer, friend = demo[0], demo[1]
    bought = await buy(client, buyer, 5_000, key="gift-1")
    assert bought.status_code == 201, bought.text
    card = bought.json()
    assert CODE_FORMAT.match(card["code"])
    assert card["last4"] == card["code"].replace("-", "")[-4:]
    assert card["balance_minor"] == card["initial_minor"] == 5_000
    assert card["status"] == "active" and card["recipient_name"] == "Grandma"
    assert (await accounts(client, buyer))["checking"]["balance_minor"] == 95_000
    assert await system_balance(session_factory, "gift_card_liability:EUR") == 5_000

    replay = await buy(client, buyer, 5_000, key="gift-1")
    assert replay.status_code == 201 and replay.json()["code"] is None  # shown only once
    assert replay.json()["id"] == card["id"]
    assert (await accounts(client, buyer))["checking"]["balance_minor"] == 95_000
    async with session_factory() as s:
        stored = await s.scalar(text("SELECT string_agg(code_hash, '') FROM gift_cards"))
        records = await s.scalar(
            text("SELECT string_agg(response_body, '') FROM idempotency_records")
        )
    compact = card["code"].replace("-", "")
    assert compact not in str(stored) and card["code"] not in str(records)

    balance = await client.post(
        "/v1/gift-cards/balance", json={"code": card["code"].lower()}, headers=friend.headers
    )
    assert balance.status_code == 200, balance.text
    assert balance.json()["balance_minor"] == 5_000 and balance.json()["status"] == "active"
    assert "id" not in balance.json()

    part = await redeem(client, friend, card["code"], 1_500)
    assert part.status_code == 200, part.text
    assert part.json()["redeemed_minor"] == 1_500
    assert part.json()["gift_card"]["balance_minor"] == 3_500
    rest = await redeem(client, friend, card["code"])  # no amount: everything left
    assert rest.json()["redeemed_minor"] == 3_500
    too_much = await redeem(client, friend, card["code"], 1)
    assert_problem(too_much, 422, "gift-card-insufficient-balance")
    assert (await accounts(client, friend))["checking"]["balance_minor"] == 105_000
    assert await system_balance(session_factory, "gift_card_liability:EUR") == 0
    assert await total_per_currency(session_factory) == {"EUR": 0}

    history = await client.get(f"/v1/gift-cards/{card['id']}/activities", headers=buyer.headers)
    assert [a["type"] for a in history.json()["data"]] == ["redeem", "redeem", "activate"]
    assert_problem(
        await client.get(f"/v1/gift-cards/{card['id']}/activities", headers=friend.headers),
        404,
        "not-found",
    )
    mine = (await client.get("/v1/gift-cards", headers=buyer.headers)).json()["data"]
    assert [c["id"] for c in mine] == [card["id"]] and "code" not in mine[0]


async def test_purchase_errors(client: httpx.AsyncClient, demo: list[Customer]) -> None:
    buyer = demo[0]
    assert_problem(await buy(client, buyer, 100_001), 422, "insufficient-funds")
    assert_problem(await buy(client, buyer, 0), 422, "validation-error")
    theirs = (await accounts(client, demo[1]))["checking"]["id"]
    foreign = await client.post(
        "/v1/gift-cards",
        json={"from_account_id": theirs, "amount_minor": 100, "currency": "EUR"},
        headers=buyer.with_key(),
    )
    assert_problem(foreign, 404, "not-found")
    no_key = await client.post(
        "/v1/gift-cards",
        json={"from_account_id": theirs, "amount_minor": 100, "currency": "EUR"},
        headers=buyer.headers,
    )
    assert_problem(no_key, 422, "validation-error")


async def test_block_unblock_and_expiry(
    client: httpx.AsyncClient, demo: list[Customer], session_factory: SessionFactory
) -> None:
    buyer, friend = demo[0], demo[1]
    card = (await buy(client, buyer, 2_000)).json()
    url = f"/v1/gift-cards/{card['id']}"
    assert_problem(await client.post(f"{url}/block", headers=friend.headers), 404, "not-found")
    blocked = await client.post(f"{url}/block", headers=buyer.headers)
    assert blocked.json()["status"] == "blocked"
    assert_problem(await redeem(client, friend, card["code"]), 422, "gift-card-blocked")
    assert (await client.post(f"{url}/unblock", headers=buyer.headers)).json()["status"] == "active"

    async with session_factory() as s, s.begin():
        await s.execute(update(GiftCard).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert_problem(await redeem(client, friend, card["code"]), 422, "gift-card-expired")
    balance = await client.post(
        "/v1/gift-cards/balance", json={"code": card["code"]}, headers=friend.headers
    )
    assert balance.json()["status"] == "expired"
    activity = await client.get(f"{url}/activities", headers=buyer.headers)
    assert [a["type"] for a in activity.json()["data"]] == ["unblock", "block", "activate"]


async def test_wrong_codes_lock_out_after_five(
    client: httpx.AsyncClient, demo: list[Customer], session_factory: SessionFactory
) -> None:
    buyer, guesser = demo[0], demo[1]
    card = (await buy(client, buyer, 1_000)).json()
    for attempt in range(5):
        guess = codes.generate() if attempt % 2 else "NOT-A-CODE"
        response = await client.post(
            "/v1/gift-cards/balance", json={"code": guess}, headers=guesser.headers
        )
        assert_problem(response, 404, "gift-card-not-found")
    # Locked now, even with the right code, on both endpoints.
    locked = await client.post(
        "/v1/gift-cards/balance", json={"code": card["code"]}, headers=guesser.headers
    )
    assert_problem(locked, 429, "too-many-attempts")
    assert int(locked.headers["retry-after"]) > 0
    assert_problem(await redeem(client, guesser, card["code"]), 429, "too-many-attempts")
    # Per IP too: every test request comes from the same client address.
    other = await client.post(
        "/v1/gift-cards/balance", json={"code": card["code"]}, headers=demo[2].headers
    )
    assert_problem(other, 429, "too-many-attempts")
    assert await count(session_factory, "code_lookup_failures") == 5


async def test_racing_redemptions_never_overdraw_the_card(
    client: httpx.AsyncClient, demo: list[Customer], session_factory: SessionFactory
) -> None:
    card = (await buy(client, demo[0], 3_000)).json()
    results = await asyncio.gather(
        *(redeem(client, who, card["code"], 1_000) for who in demo for _ in range(2))
    )
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 200, 200, 422, 422, 422], [r.text for r in results]
    assert await system_balance(session_factory, "gift_card_liability:EUR") == 0
    assert await total_per_currency(session_factory) == {"EUR": 0}


async def test_guest_balance_check_through_the_service_route(
    client: httpx.AsyncClient, demo: list[Customer]
) -> None:
    from tests.core_banking.conftest import SERVICE_TOKEN

    card = (await buy(client, demo[0], 2_500)).json()
    url, service = "/internal/gift-cards/balance", {"X-Service-Token": SERVICE_TOKEN}
    body = {"code": card["code"], "requester": "chat-session-1"}
    assert_problem(await client.post(url, json=body), 401, "unauthorized")
    assert_problem(
        await client.post(url, json=body, headers={"X-Service-Token": "nope"}), 401, "unauthorized"
    )
    seen = await client.post(url, json=body, headers=service)
    assert seen.status_code == 200, seen.text
    assert seen.json()["balance_minor"] == 2_500 and "code" not in seen.json()
    assert_problem(
        await client.post(url, json={"code": card["code"]}, headers=service),
        422,
        "validation-error",
    )
    # Wrong codes lock out that requester only; another chat session still may look.
    for _ in range(5):
        wrong = {"code": codes.generate(), "requester": "chat-session-2"}
        assert_problem(
            await client.post(url, json=wrong, headers=service), 404, "gift-card-not-found"
        )
    locked = {"code": card["code"], "requester": "chat-session-2"}
    assert_problem(await client.post(url, json=locked, headers=service), 429, "too-many-attempts")
    assert (await client.post(url, json=body, headers=service)).status_code == 200
