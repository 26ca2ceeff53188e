"""The embedded SQLite backend runs the same API single-writer (its database lock
serialises writers; FOR UPDATE is a no-op there). One pass over the money paths."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from core_banking.iban import OTHER_BANK_CODE, make_iban
from tests.core_banking.conftest import TotpClock
from tests.core_banking.helpers import SessionFactory, accounts, login, total_per_currency

pytestmark = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)


async def test_money_paths_on_sqlite(
    run_seed: Callable[..., Any],
    client: httpx.AsyncClient,
    session_factory: SessionFactory,
    sign: Callable[..., str],
    totp: TotpClock,
) -> None:
    await run_seed(2, history=True)
    me = await login(session_factory, sign, "demo001")
    other = await login(session_factory, sign, "demo002")
    mine, theirs = await accounts(client, me), await accounts(client, other)

    body = {
        "from_account_id": mine["checking"]["id"],
        "to_account_number": theirs["checking"]["number"],
        "amount_minor": 1_000,
        "currency": "EUR",
        "reference": "smoke",
    }
    first = await client.post("/v1/transfers", json=body, headers=me.with_key("s1"))
    replay = await client.post("/v1/transfers", json=body, headers=me.with_key("s1"))
    assert first.status_code == replay.status_code == 201, first.text
    assert first.json() == replay.json()
    external = {**body, "to_account_number": make_iban(OTHER_BANK_CODE, "1"), "amount_minor": 500}
    held = await client.post(
        "/v1/transfers", json={**external, "amount_minor": 30_000}, headers=me.with_key()
    )
    assert held.json()["status"] == "requires_confirmation"
    confirmed = await client.post(
        f"/v1/transfers/{held.json()['id']}/confirm",
        json={"code": totp.code()},
        headers=me.headers,
    )
    assert confirmed.json()["status"] == "completed", confirmed.text

    card = await client.post(
        "/v1/gift-cards",
        json={"from_account_id": mine["checking"]["id"], "amount_minor": 700, "currency": "EUR"},
        headers=me.with_key(),
    )
    assert card.status_code == 201, card.text
    redeemed = await client.post(
        "/v1/gift-cards/redeem",
        json={"code": card.json()["code"], "to_account_id": theirs["savings"]["id"]},
        headers=other.with_key(),
    )
    assert redeemed.status_code == 200, redeemed.text

    assert (await accounts(client, me))["checking"]["balance_minor"] == 100_000 - 31_700
    found = await client.get(
        f"/v1/accounts/{mine['checking']['id']}/transactions",
        params={"q": "tesco"},
        headers=me.headers,
    )
    assert len(found.json()["data"]) == 2
    assert await total_per_currency(session_factory) == {"EUR": 0}
