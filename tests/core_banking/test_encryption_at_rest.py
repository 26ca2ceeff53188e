"""Personal data at rest (issue 19): customer names, payee names and IBANs are stored as
AES-GCM ciphertext with their key id (the raw columns show no plaintext), the API still
answers in plaintext, payee uniqueness works through the IBAN's blind index, and
``core_banking.rekey`` moves every row to a new key while the old one still reads.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core_banking import migrate
from core_banking.db import create_engine
from core_banking.fieldcrypt import FieldDecryptError, new_key_spec
from core_banking.models import Customer, Payee
from core_banking.models import encrypted as encrypted_columns
from core_banking.rekey import rekey
from core_banking.settings import DEFAULT_DATA_ENCRYPTION_KEY, Settings
from tests.core_banking.conftest import SERVICE_TOKEN, Keys, make_settings
from tests.core_banking.helpers import assert_problem, login

SessionFactory = Callable[[], AsyncSession]
ROOT = Path(__file__).resolve().parents[2]
KEY_A, KEY_B = new_key_spec("keyA"), new_key_spec("keyB")


@pytest.fixture(autouse=True)
def _default_keys_afterwards() -> Iterator[None]:
    yield
    encrypted_columns.use_settings(Settings())  # the development keys the other tests use


async def raw(engine: AsyncEngine, sql: str, **params: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())


async def test_names_and_ibans_are_ciphertext_at_rest_and_plaintext_in_the_api(
    run_seed: Callable[..., Any],
    session_factory: SessionFactory,
    sign: Callable[..., str],
    client: httpx.AsyncClient,
    engine: AsyncEngine,
) -> None:
    await run_seed(1)
    me = await login(session_factory, sign, "demo001")
    created = await client.post(
        "/v1/payees",
        json={"name": "Jane Doe", "iban": "gb82 west 1234 5698 7654 32"},
        headers=me.headers,
    )
    assert created.status_code == 201, created.text

    [(name, iban, index)] = await raw(
        engine, "SELECT name, iban, iban_index FROM payees WHERE id = :id", id=created.json()["id"]
    )
    assert name.startswith("v1:dev:") and "Jane" not in name
    assert iban.startswith("v1:dev:") and "GB82" not in iban.upper()
    assert len(index) == 64 and "GB82" not in index.upper()
    [(display_name,)] = await raw(
        engine, "SELECT display_name FROM customers WHERE id = :id", id=me.id
    )
    assert display_name.startswith("v1:dev:") and "Meier" not in display_name

    listed = (await client.get("/v1/payees", headers=me.headers)).json()["data"]
    assert {"name": "Jane Doe", "iban": "GB82WEST12345698765432"}.items() <= next(
        p for p in listed if p["id"] == created.json()["id"]
    ).items()
    assert [p["name"] for p in listed] == sorted(p["name"] for p in listed)
    verified = await client.post(
        "/internal/auth/verify",
        json={"username": "demo001", "password": "demo-password"},
        headers={"X-Service-Token": SERVICE_TOKEN},
    )
    assert verified.json()["display_name"] == "Anna Meier"
    # Uniqueness compares the blind index: the same IBAN written another way is refused.
    duplicate = await client.post(
        "/v1/payees", json={"name": "J", "iban": "GB82WEST12345698765432"}, headers=me.headers
    )
    assert_problem(duplicate, 409, "duplicate-payee")


async def test_rekey_moves_every_row_to_the_new_key(
    session_factory: SessionFactory, engine: AsyncEngine, settings: Settings, rsa_keys: Keys
) -> None:
    under_a = make_settings(settings.database_url, rsa_keys, data_encryption_keys=KEY_A)
    encrypted_columns.use_settings(under_a)
    async with session_factory() as session, session.begin():
        for n in range(5):  # more rows than a batch, so keyset batching is exercised
            customer = Customer(username=f"enc{n}", display_name=f"Name {n}", password_hash="x")
            session.add(customer)
            await session.flush()
            session.add(Payee(customer_id=customer.id, name=f"Payee {n}", iban=f"DE{n:020d}"))
    stored = await raw(
        engine, "SELECT iban FROM payees UNION ALL SELECT display_name FROM customers"
    )
    assert len(stored) == 10 and all(v.startswith("v1:keyA:") for (v,) in stored)

    # B first (encrypts), A still configured (reads): rotate.
    both = make_settings(settings.database_url, rsa_keys, data_encryption_keys=f"{KEY_B},{KEY_A}")
    cipher = encrypted_columns.use_settings(both)
    counts = {c.table: (c.rekeyed, c.left) for c in await rekey(engine, cipher, batch_size=2)}
    assert {table: n for table, n in counts.items() if n != (0, 0)} == {
        "customers": (5, 0),
        "payees": (5, 0),
    }
    stored = await raw(
        engine, "SELECT iban FROM payees UNION ALL SELECT display_name FROM customers"
    )
    assert all(v.startswith("v1:keyB:") for (v,) in stored)
    again = await rekey(engine, cipher)
    assert {(c.rekeyed, c.left) for c in again} == {(0, 0)}

    # A removed: everything still reads; with A alone nothing does (it really moved).
    encrypted_columns.use_settings(
        make_settings(settings.database_url, rsa_keys, data_encryption_keys=KEY_B)
    )
    async with session_factory() as session:
        names = sorted((await session.scalars(select(Customer.display_name))).all())
        payees = sorted((p.name, p.iban) for p in (await session.scalars(select(Payee))).all())
    assert names == [f"Name {n}" for n in range(5)]
    assert payees == [(f"Payee {n}", f"DE{n:020d}") for n in range(5)]
    encrypted_columns.use_settings(under_a)
    async with session_factory() as session:
        with pytest.raises(FieldDecryptError, match="keyB"):
            await session.scalars(select(Customer.display_name))


async def test_migration_0005_encrypts_existing_rows(
    settings: Settings, rsa_keys: Keys, tmp_path: Path
) -> None:
    """Rows written in plaintext before 0005 are ciphertext after it, and readable."""
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    old = make_settings(url, rsa_keys, data_encryption_keys=KEY_A)
    await migrate.upgrade(old, "0004")
    engine = create_engine(old)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO customers (id, username, display_name, password_hash, created_at)"
                    " VALUES ('c1', 'u1', 'Plain Name', 'x', CURRENT_TIMESTAMP)"
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO payees (id, customer_id, name, iban, created_at) VALUES"
                    " ('p1', 'c1', 'Plain Payee', 'DE89370400440532013000', CURRENT_TIMESTAMP)"
                )
            )
        await migrate.upgrade(old)
        [(name, iban, index)] = await raw(engine, "SELECT name, iban, iban_index FROM payees")
        [(display,)] = await raw(engine, "SELECT display_name FROM customers")
        assert all(v.startswith("v1:keyA:") for v in (name, iban, display))
        cipher = encrypted_columns.use_settings(old)
        assert cipher.decrypt(display, context="customers.display_name") == "Plain Name"
        assert cipher.decrypt(iban, context="payees.iban") == "DE89370400440532013000"
        assert index == cipher.blind_index("DE89370400440532013000", context="payees.iban")
        await migrate.downgrade(old, "0004")
        assert await raw(engine, "SELECT name, iban FROM payees") == [
            ("Plain Payee", "DE89370400440532013000")
        ]
    finally:
        await engine.dispose()


def test_rekey_cli_prints_counts(tmp_path: Path, rsa_keys: Keys) -> None:
    db = tmp_path / "cli.sqlite3"
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": f"sqlite:///{db}",
        "JWT_PUBLIC_KEY_FILE": str(rsa_keys.public_path),
    }

    def run(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", *args],
            cwd=ROOT,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert run("core_banking.migrate").returncode == 0
    assert run("core_banking.seed", "--customers", "2").returncode == 0
    done = run(
        "core_banking.rekey", DATA_ENCRYPTION_KEYS=f"{KEY_B},dev:{DEFAULT_DATA_ENCRYPTION_KEY}"
    )
    assert done.returncode == 0, done.stderr
    assert "customers: 2 re-encrypted under key 'keyB', 0 left" in done.stdout
    assert (
        "payees: 4 re-encrypted under key 'keyB' (blind indexes under index key '(no id)'), 0 left"
        in done.stdout
    )


async def test_rekey_skips_rows_a_request_holds_and_a_second_run_takes_them(
    session_factory: SessionFactory, engine: AsyncEngine, settings: Settings, rsa_keys: Keys
) -> None:
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("row locks: PostgreSQL")
    encrypted_columns.use_settings(
        make_settings(settings.database_url, rsa_keys, data_encryption_keys=KEY_A)
    )
    async with session_factory() as session, session.begin():
        for n in range(3):
            session.add(Customer(username=f"lock{n}", display_name=f"N {n}", password_hash="x"))
    cipher = encrypted_columns.use_settings(
        make_settings(settings.database_url, rsa_keys, data_encryption_keys=f"{KEY_B},{KEY_A}")
    )
    async with engine.connect() as request:  # a request in the middle of its transaction
        await request.execute(text("SELECT id FROM customers WHERE username = 'lock1' FOR UPDATE"))
        # Bounded so that a rekey waiting for the lock fails the test instead of hanging.
        first = await asyncio.wait_for(rekey(engine, cipher), timeout=60)
        await request.rollback()
    assert {c.table: (c.rekeyed, c.left) for c in first}["customers"] == (2, 1)
    second = await rekey(engine, cipher)
    assert {c.table: (c.rekeyed, c.left) for c in second}["customers"] == (1, 0)
