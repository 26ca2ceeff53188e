from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.core_banking.helpers import (
    Customer,
    SessionFactory,
    accounts,
    assert_problem,
    count,
    login,
)

pytestmark = pytest.mark.parametrize("settings", ["postgresql"], indirect=True)


@pytest.fixture
async def demo(
    run_seed: Callable[..., Any], session_factory: SessionFactory, sign: Callable[..., str]
) -> list[Customer]:
    await run_seed(2, history=True)
    return [await login(session_factory, sign, f"demo00{n}") for n in (1, 2)]


async def history(
    client: httpx.AsyncClient, who: Customer, account_id: str, **params: Any
) -> httpx.Response:
    return await client.get(
        f"/v1/accounts/{account_id}/transactions", params=params, headers=who.headers
    )


async def test_get_account_is_scoped(client: httpx.AsyncClient, demo: list[Customer]) -> None:
    me, other = demo
    mine = await accounts(client, me)
    got = await client.get(f"/v1/accounts/{mine['checking']['id']}", headers=me.headers)
    assert got.status_code == 200 and got.json() == mine["checking"]
    denied = await client.get(f"/v1/accounts/{mine['checking']['id']}", headers=other.headers)
    assert_problem(denied, 404, "not-found")
    assert_problem(await history(client, other, mine["checking"]["id"]), 404, "not-found")


async def test_history_pages_newest_first_with_running_balance(
    client: httpx.AsyncClient, demo: list[Customer]
) -> None:
    me = demo[0]
    checking = (await accounts(client, me))["checking"]
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": 5, **({"cursor": cursor} if cursor else {})}
        page = (await history(client, me, checking["id"], **params)).json()
        items += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(items) == 13  # opening deposit + 12 seeded history items
    times = [i["booked_at"] for i in items]
    assert times == sorted(times, reverse=True)
    assert items[0]["balance_after_minor"] == checking["balance_minor"] == 100_000
    # Each balance_after is the previous (older) one plus this amount.
    for newer, older in itertools.pairwise(items):
        assert newer["balance_after_minor"] == older["balance_after_minor"] + newer["amount_minor"]
    salary = next(i for i in items if i["kind"] == "incoming_payment")
    assert salary["amount_minor"] == 215_000 and salary["counterparty"]["name"]
    assert set(items[0]) == {
        "id",
        "journal_id",
        "booked_at",
        "kind",
        "amount_minor",
        "currency",
        "balance_after_minor",
        "description",
        "counterparty",
    }


async def test_history_filters(client: httpx.AsyncClient, demo: list[Customer]) -> None:
    me = demo[0]
    checking_id = (await accounts(client, me))["checking"]["id"]

    async def descriptions(**params: Any) -> list[str]:
        response = await history(client, me, checking_id, **params)
        assert response.status_code == 200, response.text
        return [i["description"] for i in response.json()["data"]]

    tesco = await descriptions(q="tesco")
    assert len(tesco) == 2 and all("TESCO" in d for d in tesco)
    assert await descriptions(q="City Housing") == ["Rent"]  # counterparty name
    assert len(await descriptions(q="amazon", max_amount_minor=3_000)) == 1
    assert await descriptions(min_amount_minor=200_000) == ["Salary"]
    assert await descriptions(q="100%_") == []  # LIKE wildcards are literal
    recent = await descriptions(**{"from": (await _days_ago(3))})
    assert recent == ["Card payment IKEA"]
    old = await descriptions(to=await _days_ago(50))
    assert old == ["Opening deposit (checking)"]
    bad = await history(client, me, checking_id, **{"from": "yesterday"})
    assert_problem(bad, 422, "validation-error")


async def _days_ago(days: int) -> str:
    from datetime import datetime, timedelta, timezone

    return (datetime.now(timezone.utc) - timedelta(days=days)).date().isoformat()


async def test_transfer_shows_in_both_histories(
    client: httpx.AsyncClient, demo: list[Customer]
) -> None:
    me, other = demo
    mine, theirs = await accounts(client, me), await accounts(client, other)
    body = {
        "from_account_id": mine["checking"]["id"],
        "to_account_number": theirs["checking"]["number"],
        "amount_minor": 4_200,
        "currency": "EUR",
        "reference": "Dinner",
    }
    assert (await client.post("/v1/transfers", json=body, headers=me.with_key())).status_code == 201
    out = (await history(client, me, mine["checking"]["id"], limit=1)).json()["data"][0]
    assert out["amount_minor"] == -4_200 and out["description"] == "Dinner"
    assert out["counterparty"] == {"name": "Ben R.", "number": theirs["checking"]["number"]}
    assert out["balance_after_minor"] == 95_800 and out["kind"] == "transfer"
    incoming = (await history(client, other, theirs["checking"]["id"], limit=1)).json()["data"][0]
    assert incoming["amount_minor"] == 4_200
    assert incoming["counterparty"] == {"name": "Anna Meier", "number": mine["checking"]["number"]}


async def test_payees_crud(
    client: httpx.AsyncClient, demo: list[Customer], session_factory: SessionFactory
) -> None:
    me, other = demo
    listed = (await client.get("/v1/payees", headers=me.headers)).json()["data"]
    assert [p["name"] for p in listed] == ["Alpine Energy AG", "City Housing (rent)"]
    created = await client.post(
        "/v1/payees",
        json={"name": "Jane Doe", "iban": "gb82 west 1234 5698 7654 32"},
        headers=me.headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["iban"] == "GB82WEST12345698765432"
    duplicate = await client.post(
        "/v1/payees", json={"name": "Jane", "iban": "GB82WEST12345698765432"}, headers=me.headers
    )
    assert_problem(duplicate, 409, "duplicate-payee")
    # Another customer may save the same IBAN.
    mirror = await client.post(
        "/v1/payees", json={"name": "J", "iban": "GB82WEST12345698765432"}, headers=other.headers
    )
    assert mirror.status_code == 201
    invalid = await client.post(
        "/v1/payees", json={"name": "X", "iban": "GB82WEST12345698765433"}, headers=me.headers
    )
    assert_problem(invalid, 422, "invalid-iban")
    extra = await client.post(
        "/v1/payees",
        json={"name": "X", "iban": "GB82WEST12345698765432", "a": 1},
        headers=me.headers,
    )
    assert_problem(extra, 422, "validation-error")

    payee_id = created.json()["id"]
    assert_problem(
        await client.delete(f"/v1/payees/{payee_id}", headers=other.headers), 404, "not-found"
    )
    assert (await client.delete(f"/v1/payees/{payee_id}", headers=me.headers)).status_code == 204
    assert_problem(
        await client.delete(f"/v1/payees/{payee_id}", headers=me.headers), 404, "not-found"
    )
    assert await count(session_factory, "payees") == 5


async def test_cards_freeze_unfreeze_and_report_lost(
    client: httpx.AsyncClient, demo: list[Customer], session_factory: SessionFactory
) -> None:
    me, other = demo
    cards = (await client.get("/v1/cards", headers=me.headers)).json()["data"]
    assert len(cards) == 1
    card = cards[0]
    assert card["status"] == "active" and card["masked_number"].endswith(card["last4"])
    assert "number" not in card and card["expiry_year"] == 2029
    url = f"/v1/cards/{card['id']}"
    assert_problem(await client.post(f"{url}/freeze", headers=other.headers), 404, "not-found")
    for _ in range(2):  # freezing twice is fine
        frozen = await client.post(f"{url}/freeze", headers=me.headers)
        assert frozen.status_code == 200 and frozen.json()["status"] == "frozen"
    assert (await client.post(f"{url}/unfreeze", headers=me.headers)).json()["status"] == "active"

    bad_reason = await client.post(f"{url}/report-lost", json={"reason": "x"}, headers=me.headers)
    assert_problem(bad_reason, 422, "validation-error")
    reported = await client.post(
        f"{url}/report-lost", json={"reason": "stolen"}, headers=me.headers
    )
    assert reported.status_code == 200, reported.text
    old, new = reported.json()["reported"], reported.json()["replacement"]
    assert old["status"] == "stolen" and old["replaced_by_id"] == new["id"]
    assert new["status"] == "active" and new["last4"] != old["last4"]
    assert_problem(await client.post(f"{url}/unfreeze", headers=me.headers), 409, "invalid-state")
    again = await client.post(f"{url}/report-lost", json={"reason": "lost"}, headers=me.headers)
    assert_problem(again, 409, "invalid-state")
    listed = (await client.get("/v1/cards", headers=me.headers)).json()["data"]
    statuses = {c["status"] for c in listed}
    assert statuses == {"stolen", "active"}
    assert await count(session_factory, "audit_log") == 3
