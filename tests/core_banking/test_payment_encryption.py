"""Payments at rest (issue 19, migration 0006): after transfers, a gift card and the seed's
history, no table holds a person's name, an IBAN (not even the accounts' own) or a
reference in clear, while the API answers as before; the first-payment risk rule still
recognises a payee through the ledger's blind index; the history search still finds a
payee by part of the name or of the IBAN, page by page.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core_banking import migrate
from core_banking.app import create_app
from core_banking.db import create_sessionmaker
from core_banking.iban import OTHER_BANK_CODE, make_iban
from core_banking.ledger.service import Leg, post_journal
from core_banking.models import Account, Base
from core_banking.models.base import utcnow
from core_banking.seed import seed
from core_banking.settings import Settings
from core_banking.system import accounts as system_accounts
from tests.core_banking.conftest import PG_ADMIN_URL, Keys, make_settings
from tests.core_banking.helpers import Customer, accounts, login

SessionFactory = Callable[[], AsyncSession]
ZOE = "Zoe Quartermaine"
ZOE_IBAN = make_iban(OTHER_BANK_CODE, "4242424242")
STRANGER_IBAN = make_iban(OTHER_BANK_CODE, "9191919191")


async def clear_text(engine: AsyncEngine, needles: list[str]) -> list[tuple[str, str, str]]:
    """(table, column, needle) wherever a needle appears in a stored value. Needles are
    matched case-sensitively and are long or contain a space (never in base64url), so
    ciphertext cannot match them by chance."""
    found = []
    async with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for column in table.columns:
                values = await conn.execute(
                    text(f"SELECT CAST({column.name} AS TEXT) FROM {table.name}")
                )
                found += [
                    (table.name, column.name, needle)
                    for (value,) in values
                    for needle in needles
                    if value is not None and needle in value
                ]
    return found


async def post(
    client: httpx.AsyncClient, who: Customer, path: str, key: str | None = None, **body: Any
) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=who.with_key(key))
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_no_name_iban_or_reference_in_clear_after_payments(
    run_seed: Callable[..., Any],
    session_factory: SessionFactory,
    sign: Callable[..., str],
    client: httpx.AsyncClient,
    engine: AsyncEngine,
) -> None:
    await run_seed(2, history=True)
    me = await login(session_factory, sign, "demo001")
    other = await login(session_factory, sign, "demo002")
    mine, theirs = await accounts(client, me), await accounts(client, other)
    payee = await client.post(
        "/v1/payees", json={"name": ZOE, "iban": ZOE_IBAN}, headers=me.headers
    )
    source = mine["checking"]["id"]

    to_zoe = await post(
        client,
        me,
        "/v1/transfers",
        key="zoe-1",
        from_account_id=source,
        payee_id=payee.json()["id"],
        amount_minor=1_000,
        currency="EUR",
        reference="dinner with Zoe Quartermaine",
    )
    assert to_zoe["status"] == "completed"
    assert to_zoe["to_account"] == {"id": None, "number": ZOE_IBAN, "name": ZOE}
    to_ben = await post(
        client,
        me,
        "/v1/transfers",
        from_account_id=source,
        to_account_number=theirs["checking"]["number"],
        amount_minor=500,
        currency="EUR",
        reference="for Ben Rossi",
    )
    held = await post(
        client,
        me,
        "/v1/transfers",
        from_account_id=source,
        to_account_number=STRANGER_IBAN,
        amount_minor=30_000,
        currency="EUR",
        reference="deposit for Yusuf Okafor",
    )
    assert (to_ben["status"], held["status"]) == ("completed", "requires_confirmation")
    await post(
        client,
        me,
        "/v1/gift-cards",
        from_account_id=source,
        amount_minor=2_500,
        currency="EUR",
        recipient_name="Yara Example",
        message="Happy birthday, Yara Example!",
    )

    needles = [
        ZOE,
        ZOE_IBAN,
        STRANGER_IBAN,
        "dinner with",
        "for Ben",
        "Yusuf Okafor",
        "Yara Example",
        "Anna Meier",  # the payer, in the payee's history and the stored responses
        "Ben R.",  # the payee as the payer saw them
        "Ben Rossi",
        "City Housing",  # the seeded payees and history
        "Alpine Energy",
        "Alex Agent",  # staff
        mine["checking"]["number"],  # our own customers' IBANs, and their copies
        theirs["checking"]["number"],
    ]
    assert await clear_text(engine, needles) == []

    # ... and the API still answers in plaintext: reads, replays, both histories.
    got = await client.get(f"/v1/transfers/{to_zoe['id']}", headers=me.headers)
    assert got.json() == to_zoe
    replay = await client.post(
        "/v1/transfers",
        json={
            "from_account_id": source,
            "payee_id": payee.json()["id"],
            "amount_minor": 1_000,
            "currency": "EUR",
            "reference": "dinner with Zoe Quartermaine",
        },
        headers=me.with_key("zoe-1"),
    )
    assert replay.json() == to_zoe
    page = await client.get(
        f"/v1/accounts/{theirs['checking']['id']}/transactions",
        params={"limit": 1},
        headers=other.headers,
    )
    [incoming] = page.json()["data"]
    assert incoming["description"] == "for Ben Rossi"
    assert incoming["counterparty"] == {"name": "Anna Meier", "number": mine["checking"]["number"]}


@pytest.mark.parametrize("settings", ["postgresql"], indirect=True)
async def test_first_payment_check_recognises_a_payee_by_blind_index(
    run_seed: Callable[..., Any],
    session_factory: SessionFactory,
    sign: Callable[..., str],
    client: httpx.AsyncClient,
) -> None:
    """Above RISK_NEW_PAYEE_THRESHOLD_MINOR (200.00) a transfer to an IBAN the customer
    never paid waits for step-up; to one paid before (the seeded rent, or a transfer just
    made through the hand-written path) it completes."""
    await run_seed(1, history=True)
    me = await login(session_factory, sign, "demo001")
    source = (await accounts(client, me))["checking"]["id"]
    payees = (await client.get("/v1/payees", headers=me.headers)).json()["data"]
    rent = next(p for p in payees if "Housing" in p["name"])

    def transfer(number: str, amount: int) -> dict[str, Any]:
        return {
            "from_account_id": source,
            "to_account_number": number,
            "amount_minor": amount,
            "currency": "EUR",
        }

    paid_before = await post(client, me, "/v1/transfers", **transfer(rent["iban"], 30_000))
    assert (paid_before["status"], paid_before["risk_reasons"]) == ("completed", [])
    never_paid = await post(client, me, "/v1/transfers", **transfer(STRANGER_IBAN, 30_000))
    assert never_paid["status"] == "requires_confirmation"
    assert never_paid["risk_reasons"] == ["new_payee_large_amount"]
    await post(client, me, "/v1/transfers", **transfer(ZOE_IBAN, 1_000))  # small: no check
    now_paid = await post(client, me, "/v1/transfers", **transfer(ZOE_IBAN, 30_000))
    assert (now_paid["status"], now_paid["risk_reasons"]) == ("completed", [])


async def test_history_search_finds_a_payee_by_part_of_the_name_or_iban_page_by_page(
    run_seed: Callable[..., Any],
    session_factory: SessionFactory,
    sign: Callable[..., str],
    client: httpx.AsyncClient,
) -> None:
    """More entries than one scan batch (accounts.repository.SCAN_FIRST_BATCH), one in
    nine to Zoe: every page has the next matches in order, none twice, none missed."""
    await run_seed(1)
    me = await login(session_factory, sign, "demo001")
    checking = (await accounts(client, me))["checking"]
    async with session_factory() as session, session.begin():
        clearing = await system_accounts.get_or_create(session, system_accounts.CLEARING, "EUR")
        account = await session.get(Account, checking["id"])
        assert account is not None
        for n in range(140):
            party = (ZOE, ZOE_IBAN) if n % 9 == 4 else ("Filler Supplies GmbH", None)
            await post_journal(
                session,
                kind="transfer",
                description="Transfer" if n % 9 == 4 else "Card payment FILLER",
                legs=[
                    Leg(account.id, -10 - n, "EUR", *party),
                    Leg(clearing.id, 10 + n, "EUR", "Anna Meier", checking["number"]),
                ],
                booked_at=utcnow() - timedelta(minutes=n + 1),
            )

    async def pages(limit: int, **params: Any) -> list[dict[str, Any]]:
        items, cursor = [], None
        while True:
            query = {"limit": limit, **params, **({"cursor": cursor} if cursor else {})}
            response = await client.get(
                f"/v1/accounts/{checking['id']}/transactions", params=query, headers=me.headers
            )
            assert response.status_code == 200, response.text
            page = response.json()
            assert len(page["data"]) <= limit
            items += page["data"]
            cursor = page["next_cursor"]
            if cursor is None:
                return items

    async def search(limit: int, **params: Any) -> list[str]:
        return [item["id"] for item in await pages(limit, **params)]

    everything = await pages(100)
    to_zoe = [i["id"] for i in everything if i["counterparty"]["name"] == ZOE]
    assert len(everything) == 141 and len(to_zoe) == 16
    assert await search(5, q="quarterm") == to_zoe  # part of the name, any case
    assert await search(3, q=ZOE_IBAN[-9:]) == to_zoe  # part of the IBAN
    assert await search(100, q=ZOE_IBAN.lower()) == to_zoe
    assert await search(4, q="quarterm", max_amount_minor=80) == [
        i["id"] for i in everything if i["id"] in to_zoe and -i["amount_minor"] <= 80
    ]
    assert await search(5, q="nobody at all") == []


@pytest.fixture
def fresh_url(settings: Settings, tmp_path: Path) -> Iterator[str]:
    """An empty database on the backend of `settings` (migrations run back and forth)."""
    if not settings.database_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'm.sqlite3'}"
        return
    name = f"cb_mig_{secrets.token_hex(6)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


async def test_migration_0006_encrypts_the_payments_made_before_it(
    fresh_url: str, rsa_keys: Keys, sign: Callable[..., str]
) -> None:
    """Payments made by the code before 0006 (plaintext: what downgrading to 0005 leaves)
    are ciphertext after it, indexed for the first-payment check, and read as before."""
    settings = make_settings(fresh_url, rsa_keys)
    await migrate.upgrade(settings)
    app = create_app(settings)
    factory = create_sessionmaker(app.state.engine)
    try:
        async with factory() as session, session.begin():
            await seed(session, 1, settings, history=True)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cb") as client:
            me = await login(factory, sign, "demo001")
            source = (await accounts(client, me))["checking"]["id"]
            payment = {
                "from_account_id": source,
                "to_account_number": ZOE_IBAN,
                "amount_minor": 1_000,
                "currency": "EUR",
                "reference": "dinner with Zoe Quartermaine",
            }
            before = await post(client, me, "/v1/transfers", key="k1", **payment)
            card = {"from_account_id": source, "amount_minor": 500, "currency": "EUR"}
            await post(client, me, "/v1/gift-cards", recipient_name="Yara Example", **card)

            await migrate.downgrade(settings, "0005")
            [(number, reference)] = await raw_rows(
                app.state.engine, "SELECT to_account_number, reference FROM transfers"
            )
            assert (number, reference) == (ZOE_IBAN, "dinner with Zoe Quartermaine")
            assert ZOE_IBAN in {
                n
                for (n,) in await raw_rows(
                    app.state.engine, "SELECT counterparty_number FROM ledger_entries"
                )
            }

            assert await raw_rows(app.state.engine, "SELECT recipient_name FROM gift_cards") == [
                ("Yara Example",)
            ]

            await migrate.upgrade(settings)
            needles = [ZOE_IBAN, "dinner with", "Anna Meier", "Yara Example", "Alex Agent"]
            assert await clear_text(app.state.engine, needles) == []
            indexes = await raw_rows(
                app.state.engine,
                "SELECT counterparty_number_index FROM ledger_entries"
                " WHERE counterparty_number IS NOT NULL",
            )
            assert indexes and all(len(index) == 64 for (index,) in indexes)
            got = await client.get(f"/v1/transfers/{before['id']}", headers=me.headers)
            assert got.json() == before
            replay = await client.post("/v1/transfers", json=payment, headers=me.with_key("k1"))
            assert replay.json() == before
            # The IBAN paid before 0006 counts as paid: no step-up for a large payment.
            again = await post(client, me, "/v1/transfers", **{**payment, "amount_minor": 30_000})
            assert (again["status"], again["risk_reasons"]) == ("completed", [])
            found = await client.get(
                f"/v1/accounts/{source}/transactions", params={"q": "quarterm"}, headers=me.headers
            )
            assert [i["amount_minor"] for i in found.json()["data"]] == [-30_000, -1_000]
    finally:
        await app.state.engine.dispose()


async def raw_rows(engine: AsyncEngine, statement: str) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(text(statement))).all())
