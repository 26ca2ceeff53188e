from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core_banking.app import create_app
from core_banking.iban import OTHER_BANK_CODE, make_iban
from core_banking.settings import Settings
from tests.core_banking.conftest import TotpClock
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

# The API behaviour is backend-independent; PostgreSQL is what production runs.
# test_sqlite_smoke.py covers the SQLite path.
pytestmark = pytest.mark.parametrize("settings", ["postgresql"], indirect=True)

EXTERNAL_IBAN = make_iban(OTHER_BANK_CODE, "5550000001")


@pytest.fixture
async def demo(
    seeded: Any, session_factory: SessionFactory, sign: Callable[..., str]
) -> list[Customer]:
    return [await login(session_factory, sign, f"demo00{n}") for n in (1, 2, 3)]


async def post_transfer(
    client: httpx.AsyncClient, who: Customer, key: str | None = None, **body: Any
) -> httpx.Response:
    return await client.post("/v1/transfers", json=body, headers=who.with_key(key))


def body_to(source: str, number: str, amount: int, **extra: Any) -> dict[str, Any]:
    return {
        "from_account_id": source,
        "to_account_number": number,
        "amount_minor": amount,
        "currency": "EUR",
        "reference": "test",
        **extra,
    }


async def test_own_transfer_completes_and_skips_risk(
    client: httpx.AsyncClient, demo: list[Customer], session_factory: SessionFactory
) -> None:
    me = demo[0]
    mine = await accounts(client, me)
    # 4,000.00 to my own checking: far above every risk threshold, but own accounts.
    response = await post_transfer(
        client, me, **body_to(mine["savings"]["id"], mine["checking"]["number"], 400_000)
    )
    assert response.status_code == 201, response.text
    transfer = response.json()
    assert transfer["status"] == "completed" and transfer["kind"] == "own"
    assert transfer["amount_minor"] == 400_000 and transfer["currency"] == "EUR"
    assert transfer["from_account"]["id"] == mine["savings"]["id"]
    assert transfer["to_account"] == {
        "id": mine["checking"]["id"],
        "number": mine["checking"]["number"],
        "name": "Anna Meier",
    }
    assert transfer["reference"] == "test" and transfer["created_at"]
    after = await accounts(client, me)
    assert after["checking"]["balance_minor"] == 500_000
    assert after["savings"]["available_minor"] == 100_000
    assert await total_per_currency(session_factory) == {"EUR": 0}


async def test_transfer_to_another_customer_masks_their_name(
    client: httpx.AsyncClient, demo: list[Customer]
) -> None:
    me, other = demo[0], demo[1]
    mine, theirs = await accounts(client, me), await accounts(client, other)
    response = await post_transfer(
        client, me, **body_to(mine["checking"]["id"], theirs["checking"]["number"], 12_345)
    )
    assert response.status_code == 201, response.text
    transfer = response.json()
    assert transfer["kind"] == "internal" and transfer["status"] == "completed"
    assert transfer["to_account"]["name"] == "Ben R."  # Ben Rossi, masked
    assert (await accounts(client, me))["checking"]["balance_minor"] == 100_000 - 12_345
    assert (await accounts(client, other))["checking"]["balance_minor"] == 100_000 + 12_345
    # The recipient cannot read the payer's transfer.
    assert_problem(
        await client.get(f"/v1/transfers/{transfer['id']}", headers=other.headers), 404, "not-found"
    )
    mine_again = await client.get(f"/v1/transfers/{transfer['id']}", headers=me.headers)
    assert mine_again.json() == transfer


async def test_idempotency_replays_and_rejects_reuse(
    client: httpx.AsyncClient, demo: list[Customer], session_factory: SessionFactory
) -> None:
    me, other = demo[0], demo[1]
    mine, theirs = await accounts(client, me), await accounts(client, other)
    body = body_to(mine["checking"]["id"], theirs["checking"]["number"], 1_000)
    first = await post_transfer(client, me, "key-1", **body)
    again = await post_transfer(client, me, "key-1", **body)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert (await accounts(client, me))["checking"]["balance_minor"] == 99_000
    assert await count(session_factory, "transfers") == 1

    reused = await post_transfer(client, me, "key-1", **{**body, "amount_minor": 2_000})
    assert_problem(reused, 422, "idempotency-key-reused")
    # Keys are per customer: another customer may use the same key string.
    other_body = body_to(theirs["checking"]["id"], mine["checking"]["number"], 500)
    assert (await post_transfer(client, other, "key-1", **other_body)).status_code == 201

    missing = await client.post("/v1/transfers", json=body, headers=me.headers)
    assert_problem(missing, 422, "validation-error")
    too_long = await post_transfer(client, me, "k" * 256, **body)
    assert_problem(too_long, 422, "validation-error")
    assert (await accounts(client, me))["checking"]["balance_minor"] == 99_500


async def test_a_reference_beyond_ascii_is_kept_in_the_transfer_its_replay_and_history(
    client: httpx.AsyncClient, demo: list[Customer]
) -> None:
    """The write travels as one JSON parameter and the stored response as JSON text
    (rawsql.write_together, Claim.finish): UTF-8 and JSON's escapes must come back as
    typed."""
    me, other = demo[0], demo[1]
    mine, theirs = await accounts(client, me), await accounts(client, other)
    reference = 'Miete März · Zoë "Ø" \\ 東京 🏠'
    body = body_to(mine["checking"]["id"], theirs["checking"]["number"], 700, reference=reference)
    first = await post_transfer(client, me, "utf8-key", **body)
    assert first.status_code == 201, first.text
    assert first.json()["reference"] == reference
    again = await post_transfer(client, me, "utf8-key", **body)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    read = await client.get(f"/v1/transfers/{first.json()['id']}", headers=me.headers)
    assert read.json()["reference"] == reference


async def test_insufficient_funds_moves_nothing_and_key_can_be_retried(
    client: httpx.AsyncClient, demo: list[Customer]
) -> None:
    me = demo[0]
    mine = await accounts(client, me)
    body = body_to(mine["checking"]["id"], mine["savings"]["number"], 100_001)
    assert_problem(await post_transfer(client, me, "k", **body), 422, "insufficient-funds")
    assert (await accounts(client, me)) == mine
    # Failures are not stored: the same key with a fundable amount is a fresh request.
    ok = await post_transfer(client, me, "k2", **{**body, "amount_minor": 100_000})
    assert ok.status_code == 201


@pytest.mark.parametrize(
    ("change", "status", "slug"),
    [
        ({"amount_minor": 0}, 422, "validation-error"),
        ({"amount_minor": -5}, 422, "validation-error"),
        ({"amount_minor": 10.5}, 422, "validation-error"),
        ({"amount_minor": "100"}, 422, "validation-error"),
        ({"currency": "USD"}, 422, "currency-mismatch"),
        ({"currency": "eur"}, 422, "validation-error"),
        ({"to_account_number": "DE00 1234"}, 422, "invalid-iban"),
        ({"to_account_number": "DE89370400440532013001"}, 422, "invalid-iban"),  # bad check
        ({"to_account_number": make_iban("99990000", "4242424242")}, 422, "unknown-account"),
        ({"unexpected": 1}, 422, "validation-error"),
        ({"payee_id": "x"}, 422, "validation-error"),  # both destinations
    ],
)
async def test_invalid_requests(
    change: dict[str, Any],
    status: int,
    slug: str,
    client: httpx.AsyncClient,
    demo: list[Customer],
) -> None:
    me = demo[0]
    mine = await accounts(client, me)
    body = {**body_to(mine["checking"]["id"], EXTERNAL_IBAN, 100), **change}
    assert_problem(await post_transfer(client, me, **body), status, slug)
    assert (await accounts(client, me)) == mine


async def test_foreign_source_same_account_and_foreign_payee(
    client: httpx.AsyncClient, demo: list[Customer]
) -> None:
    me, other = demo[0], demo[1]
    mine, theirs = await accounts(client, me), await accounts(client, other)
    foreign = body_to(theirs["checking"]["id"], mine["checking"]["number"], 100)
    assert_problem(await post_transfer(client, me, **foreign), 404, "not-found")
    same = body_to(mine["checking"]["id"], mine["checking"]["number"], 100)
    assert_problem(await post_transfer(client, me, **same), 422, "same-account")
    their_payees = (await client.get("/v1/payees", headers=other.headers)).json()["data"]
    by_payee = {
        "from_account_id": mine["checking"]["id"],
        "payee_id": their_payees[0]["id"],
        "amount_minor": 100,
        "currency": "EUR",
    }
    assert_problem(await post_transfer(client, me, **by_payee), 404, "not-found")


async def test_external_iban_goes_to_clearing_and_payee_id_works(
    client: httpx.AsyncClient, demo: list[Customer], session_factory: SessionFactory
) -> None:
    me = demo[0]
    mine = await accounts(client, me)
    spaced = " ".join(EXTERNAL_IBAN[i : i + 4] for i in range(0, len(EXTERNAL_IBAN), 4))
    response = await post_transfer(client, me, **body_to(mine["checking"]["id"], spaced, 5_000))
    assert response.status_code == 201, response.text
    transfer = response.json()
    assert transfer["kind"] == "external" and transfer["status"] == "completed"
    assert transfer["to_account"] == {"id": None, "number": EXTERNAL_IBAN, "name": None}
    assert await system_balance(session_factory, "clearing:EUR") == 5_000

    payee = (await client.get("/v1/payees", headers=me.headers)).json()["data"][0]
    by_payee = {
        "from_account_id": mine["checking"]["id"],
        "payee_id": payee["id"],
        "amount_minor": 1_000,
        "currency": "EUR",
    }
    response = await post_transfer(client, me, **by_payee)
    assert response.status_code == 201, response.text
    assert response.json()["to_account"]["name"] == payee["name"]
    assert await total_per_currency(session_factory) == {"EUR": 0}


async def test_new_payee_rule_holds_until_confirmed(
    client: httpx.AsyncClient, demo: list[Customer], totp: TotpClock
) -> None:
    me, other = demo[0], demo[1]
    mine, theirs = await accounts(client, me), await accounts(client, other)
    response = await post_transfer(
        client, me, **body_to(mine["checking"]["id"], theirs["checking"]["number"], 25_000)
    )
    assert response.status_code == 201, response.text
    held = response.json()
    assert held["status"] == "requires_confirmation"
    assert held["risk_reasons"] == ["new_payee_large_amount"]
    assert "debug_otp" not in held  # the code comes from the customer's authenticator app
    code, wrong = totp.code(), totp.wrong()
    now = await accounts(client, me)
    assert now["checking"]["balance_minor"] == mine["checking"]["balance_minor"]  # not moved
    url = f"/v1/transfers/{held['id']}/confirm"
    bad = await client.post(url, json={"code": wrong}, headers=me.headers)
    assert assert_problem(bad, 422, "invalid-confirmation-code")["attempts_remaining"] == 2
    assert_problem(
        await client.post(url, json={"code": code}, headers=other.headers), 404, "not-found"
    )
    ok = await client.post(url, json={"code": code}, headers=me.headers)
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "completed" and "debug_otp" not in ok.json()
    assert (await accounts(client, me))["checking"]["balance_minor"] == 75_000
    again = await client.post(url, json={"code": code}, headers=me.headers)
    assert again.status_code == 200 and again.json()["status"] == "completed"
    assert (await accounts(client, me))["checking"]["balance_minor"] == 75_000
    # Paid before now: the same destination is no longer "new".
    second = await post_transfer(
        client, me, **body_to(mine["checking"]["id"], theirs["checking"]["number"], 25_000)
    )
    assert second.json()["status"] == "completed"


async def test_three_wrong_codes_cancel_and_cancel_endpoint(
    client: httpx.AsyncClient, demo: list[Customer], totp: TotpClock
) -> None:
    me = demo[0]
    mine = await accounts(client, me)
    body = body_to(mine["checking"]["id"], EXTERNAL_IBAN, 30_000)
    held = (await post_transfer(client, me, **body)).json()
    code, wrong = totp.code(), totp.wrong()
    url = f"/v1/transfers/{held['id']}/confirm"
    for remaining in (2, 1, 0):
        bad = await client.post(url, json={"code": wrong}, headers=me.headers)
        assert assert_problem(bad, 422, "invalid-confirmation-code")["attempts_remaining"] == (
            remaining
        )
    assert (await client.get(f"/v1/transfers/{held['id']}", headers=me.headers)).json()[
        "status"
    ] == "cancelled"
    # The third wrong code released the hold.
    assert (await accounts(client, me))["checking"]["available_minor"] == 100_000
    late = await client.post(url, json={"code": code}, headers=me.headers)
    assert_problem(late, 409, "invalid-state")
    assert_problem(
        await client.post(url, json={"code": "12345"}, headers=me.headers), 422, "validation-error"
    )

    held2 = (await post_transfer(client, me, **body)).json()
    cancelled = await client.post(f"/v1/transfers/{held2['id']}/cancel", headers=me.headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    done = await post_transfer(client, me, **{**body, "amount_minor": 100})
    assert done.json()["status"] == "completed"
    refused = await client.post(f"/v1/transfers/{done.json()['id']}/cancel", headers=me.headers)
    assert_problem(refused, 409, "invalid-state")
    assert (await accounts(client, me))["checking"]["balance_minor"] == 100_000 - 100


async def test_unusual_amount_velocity_and_daily_limit(
    client: httpx.AsyncClient, demo: list[Customer]
) -> None:
    me, other = demo[0], demo[1]
    mine, theirs = await accounts(client, me), await accounts(client, other)
    to_other = theirs["checking"]["number"]
    savings = mine["savings"]["id"]
    first = await post_transfer(client, me, **body_to(savings, to_other, 100))
    assert first.json()["status"] == "completed"
    # Paid before, but 600.00 > 500.00 and > 3x the largest payment (1.00).
    unusual = await post_transfer(client, me, **body_to(savings, to_other, 60_000))
    assert unusual.json()["risk_reasons"] == ["unusual_amount"]
    for _ in range(3):
        small = await post_transfer(client, me, **body_to(savings, to_other, 100))
        assert small.json()["status"] == "completed"
    # Five transfers in the window (held ones count too): the sixth is held.
    sixth = await post_transfer(client, me, **body_to(savings, to_other, 100))
    assert sixth.json()["risk_reasons"] == ["velocity"]
    # Held transfers count against the daily limit: 605.00 + 4,395.00 = 5,000.00.
    assert (await post_transfer(client, me, **body_to(savings, to_other, 439_500))).status_code == (
        201
    )
    over = await post_transfer(client, me, **body_to(savings, to_other, 1))
    body = assert_problem(over, 422, "daily-limit-exceeded")
    assert body["remaining_minor"] == 0 and body["limit_minor"] == 500_000


async def test_daily_limit_says_what_is_left_today(
    client: httpx.AsyncClient, demo: list[Customer]
) -> None:
    """What the chat answers "how much can I send today?" from: what the limit check of
    a new transfer counts (transfers to others and active holds; not own-account moves,
    not cancelled holds)."""
    me, other = demo[0], demo[1]
    mine, theirs = await accounts(client, me), await accounts(client, other)

    async def limit() -> dict[str, Any]:
        response = await client.get("/v1/transfers/daily-limit", headers=me.headers)
        assert response.status_code == 200, response.text
        return dict(response.json())

    fresh = await limit()
    assert (fresh["limit_minor"], fresh["used_minor"], fresh["remaining_minor"]) == (
        500_000,
        0,
        500_000,
    )
    assert fresh["resets_at"].endswith(("T00:00:00Z", "T00:00:00+00:00"))
    own = body_to(mine["checking"]["id"], mine["savings"]["number"], 10_000)
    assert (await post_transfer(client, me, **own)).status_code == 201
    assert (await limit())["used_minor"] == 0  # own-account moves are not limited
    to_other = body_to(mine["savings"]["id"], theirs["checking"]["number"], 100)
    assert (await post_transfer(client, me, **to_other)).status_code == 201
    held = await post_transfer(client, me, **{**to_other, "amount_minor": 60_000})
    assert held.json()["status"] == "requires_confirmation"
    assert ((await limit())["used_minor"], (await limit())["remaining_minor"]) == (
        60_100,
        439_900,
    )
    cancelled = await client.post(f"/v1/transfers/{held.json()['id']}/cancel", headers=me.headers)
    assert cancelled.status_code == 200
    assert (await limit())["used_minor"] == 100  # a cancelled hold never counts
    assert (await client.get("/v1/transfers/daily-limit")).status_code == 401


async def test_list_transfers_is_paginated_newest_first(
    client: httpx.AsyncClient, demo: list[Customer]
) -> None:
    me = demo[0]
    mine = await accounts(client, me)
    ids = []
    for amount in (1, 2, 3, 4, 5):
        response = await post_transfer(
            client, me, **body_to(mine["checking"]["id"], mine["savings"]["number"], amount)
        )
        ids.append(response.json()["id"])
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/transfers", params=params, headers=me.headers)).json()
        seen += [t["id"] for t in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]
    assert (await client.get("/v1/transfers", headers=demo[1].headers)).json()["data"] == []
    bad = await client.get("/v1/transfers", params={"cursor": "!!"}, headers=me.headers)
    assert_problem(bad, 422, "validation-error")


@pytest.fixture
async def strict_client(
    settings: Settings, engine: AsyncEngine
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update={"app_env": "production"}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cb") as c:
        yield c
    await app.state.engine.dispose()


async def test_production_never_returns_the_code(
    strict_client: httpx.AsyncClient, demo: list[Customer]
) -> None:
    me = demo[0]
    mine = await accounts(strict_client, me)
    held = await post_transfer(
        strict_client, me, **body_to(mine["checking"]["id"], EXTERNAL_IBAN, 30_000)
    )
    assert held.json()["status"] == "requires_confirmation"
    assert "debug_otp" not in held.json()
