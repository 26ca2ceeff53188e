"""Rotating both key kinds while payments keep coming (issue 19), on PostgreSQL: the
service runs with a new data key and a new index key first and the old ones after
(the rollout), ``core_banking.rekey`` moves every value and blind index while a writer
makes transfers, and once the old keys are gone nothing is lost: every transfer reads
as it was answered, the ledger verifies, and payees paid under the old index key are
still recognised."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core_banking.app import create_app
from core_banking.db import create_sessionmaker
from core_banking.fieldcrypt import new_key_spec, parse_index_keys
from core_banking.iban import OTHER_BANK_CODE, make_iban
from core_banking.models import Base
from core_banking.models import encrypted as encrypted_columns
from core_banking.models.encrypted import EncryptedText
from core_banking.rekey import rekey
from core_banking.settings import DEFAULT_DATA_INDEX_KEY, Settings
from core_banking.verify_ledger import verify
from tests.core_banking.conftest import Keys, make_settings
from tests.core_banking.helpers import Customer, accounts, login

pytestmark = pytest.mark.parametrize("settings", ["postgresql"], indirect=True)

SessionFactory = Callable[[], AsyncSession]
KEY_A, KEY_B = new_key_spec("keyA"), new_key_spec("keyB")
INDEX_2 = new_key_spec("ix2")  # the same form as a data key: kid:base64 of 32 bytes
WRITER_IBAN = make_iban(OTHER_BANK_CODE, "7373737373")


@pytest.fixture(autouse=True)
def _default_keys_afterwards() -> Iterator[None]:
    yield
    encrypted_columns.use_settings(Settings())  # the development keys the other tests use


@pytest.fixture
async def make_app() -> AsyncIterator[Callable[[Settings], FastAPI]]:
    apps: list[FastAPI] = []

    def build(settings: Settings) -> FastAPI:
        apps.append(create_app(settings))  # create_app makes its keys the process's
        return apps[-1]

    yield build
    for app in apps:
        await app.state.engine.dispose()


def client_of(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cb")


async def stored_values(engine: AsyncEngine) -> tuple[list[str], list[str]]:
    """Every stored ciphertext and every stored blind index, as the columns hold them."""
    values: list[str] = []
    indexes: list[str] = []
    async with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for column in table.columns:
                if isinstance(column.type, EncryptedText):
                    into = values
                elif "blind_index_of" in column.info:
                    into = indexes
                else:
                    continue
                rows = await conn.execute(text(f"SELECT {column.name} FROM {table.name}"))
                into += [v for (v,) in rows if v not in (None, "")]
    return values, indexes


async def test_rotating_both_keys_while_transfers_are_made_loses_nothing(
    settings: Settings,
    rsa_keys: Keys,
    engine: AsyncEngine,
    run_seed: Callable[..., Any],
    session_factory: SessionFactory,
    sign: Callable[..., str],
    make_app: Callable[[Settings], FastAPI],
) -> None:
    def keys(**overrides: Any) -> Settings:
        # No velocity rule: the writer makes many transfers in a few seconds.
        return make_settings(
            settings.database_url, rsa_keys, risk_velocity_max_transfers=100_000, **overrides
        )

    # Before: data key A, the id-less development index key (bare indexes).
    encrypted_columns.use_settings(keys(data_encryption_keys=KEY_A))
    await run_seed(2, history=True)
    values, indexes = await stored_values(engine)
    assert all(v.startswith("v1:keyA:") for v in values)
    assert indexes and all(":" not in i for i in indexes)

    # The rollout: new keys first, old ones after.
    rotating = keys(
        data_encryption_keys=f"{KEY_B},{KEY_A}",
        data_index_keys=INDEX_2,
        data_index_key=DEFAULT_DATA_INDEX_KEY,
    )
    app = make_app(rotating)
    cipher = encrypted_columns.active_cipher()
    async with client_of(app) as client:
        me = await login(session_factory, sign, "demo001")
        other = await login(session_factory, sign, "demo002")
        mine, theirs = await accounts(client, me), await accounts(client, other)
        rent = next(
            p
            for p in (await client.get("/v1/payees", headers=me.headers)).json()["data"]
            if "Housing" in p["name"]
        )
        # Lookups match the old (bare) indexes before anything moved.
        assert (await first_payment(client, me, mine, rent["iban"]))["risk_reasons"] == []
        assert (await add_payee(client, me, rent["iban"])).status_code == 409

        answered: list[dict[str, Any]] = []
        stop = asyncio.Event()

        async def writer() -> None:
            n = 0
            while not stop.is_set():
                n += 1
                who, source, number = (
                    (me, mine, theirs["checking"]["number"])
                    if n % 2
                    else (other, theirs, WRITER_IBAN)
                )
                body = {
                    "from_account_id": source["checking"]["id"],
                    "to_account_number": number,
                    "amount_minor": 100,
                    "currency": "EUR",
                    "reference": f"writer payment {n}",
                }
                response = await client.post("/v1/transfers", json=body, headers=who.with_key())
                assert response.status_code == 201, response.text
                answered.append({"who": who, **response.json()})

        writing = asyncio.create_task(writer())
        while len(answered) < 3:
            await asyncio.sleep(0.01)
        before = len(answered)
        first = await rekey(engine, cipher, batch_size=20)
        during = len(answered) - before
        while len(answered) < before + during + 3:
            await asyncio.sleep(0.01)
        stop.set()
        await writing
        second = await rekey(engine, cipher, batch_size=20)  # rows a request held the first time
    assert during > 0, "the writer made no transfer while the rekey ran"
    assert sum(c.rekeyed for c in first) > 50  # the rest: rows the writer held
    assert all(c.left == 0 for c in second), second

    # The old keys are gone: everything reads, matches and adds up as before.
    final = keys(data_encryption_keys=KEY_B, data_index_keys=INDEX_2)
    assert [kid for kid, _ in parse_index_keys(final.index_keys)] == ["ix2"]
    values, indexes = await stored_values(engine)
    assert values and all(v.startswith("v1:keyB:") for v in values)
    assert indexes and all(i.startswith("ix2:") for i in indexes)
    app = make_app(final)
    async with client_of(app) as client:
        for transfer in answered:
            who = transfer.pop("who")
            got = await client.get(f"/v1/transfers/{transfer['id']}", headers=who.headers)
            assert got.json() == transfer
        async with create_sessionmaker(app.state.engine)() as session:
            report = await verify(session)
        assert report.ok, report.problems
        # Paid under the old index key (the seed's rent) and during the rotation.
        assert (await first_payment(client, me, mine, rent["iban"]))["risk_reasons"] == []
        assert (await first_payment(client, other, theirs, WRITER_IBAN))["risk_reasons"] == []
        assert (await add_payee(client, me, rent["iban"])).status_code == 409
        history = await history_of(client, other, theirs["checking"]["id"], q=WRITER_IBAN[-6:])
        paid_by_writer = [t for t in answered if t["to_account"]["number"] == WRITER_IBAN]
        assert len(history) == len(paid_by_writer) + 1  # and the check's payment just now


async def add_payee(client: httpx.AsyncClient, who: Customer, iban: str) -> httpx.Response:
    return await client.post(
        "/v1/payees", json={"name": "the same again", "iban": iban}, headers=who.headers
    )


async def history_of(
    client: httpx.AsyncClient, who: Customer, account_id: str, **params: Any
) -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        query = {"limit": 50, **params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(
            f"/v1/accounts/{account_id}/transactions", params=query, headers=who.headers
        )
        page = response.json()
        items += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def first_payment(
    client: httpx.AsyncClient, who: Customer, mine: dict[str, Any], number: str
) -> dict[str, Any]:
    """A transfer above the new-payee threshold (200.00) to `number`."""
    body = {
        "from_account_id": mine["checking"]["id"],
        "to_account_number": number,
        "amount_minor": 25_000,
        "currency": "EUR",
    }
    response = await client.post("/v1/transfers", json=body, headers=who.with_key())
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_index_keys_come_from_data_index_keys_then_data_index_key(
    settings: Settings, rsa_keys: Keys
) -> None:
    def index_key_ids(**values: Any) -> list[str]:
        configured = make_settings(settings.database_url, rsa_keys, **values)
        return [kid for kid, _ in parse_index_keys(configured.index_keys)]

    old = new_key_spec("x").split(":", 1)[1]
    assert index_key_ids() == [""]  # neither set: the id-less development key
    assert index_key_ids(data_index_key=old) == [""]  # as before key ids
    assert index_key_ids(data_index_keys=INDEX_2, data_index_key=old) == ["ix2", ""]
    with pytest.raises(ValueError, match="appears twice"):
        index_key_ids(data_index_keys=f"{INDEX_2},{INDEX_2}")
    with pytest.raises(ValueError, match="non-default"):
        make_settings(
            settings.database_url,
            rsa_keys,
            app_env="production",
            service_token="prod-service",
            gift_card_code_key="prod-gift",
            step_up_encryption_keys=Fernet.generate_key().decode(),
            data_encryption_keys=KEY_A,
            data_index_keys=f"{INDEX_2},{DEFAULT_DATA_INDEX_KEY}",
        )
