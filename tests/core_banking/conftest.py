"""Shared fixtures: a real PostgreSQL database per session, a SQLite file, RSA keys, clients.

Both backends are migrated once per session with the real Alembic migrations; each test
then starts from empty tables (rows are deleted afterwards), which is far faster than
re-migrating.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import json
import os
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from jose import jwt
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core_banking import migrate
from core_banking import seed as seed_module
from core_banking.app import create_app
from core_banking.db import create_engine, create_sessionmaker
from core_banking.seed import SeedReport, seed
from core_banking.settings import Settings
from core_banking.step_up import methods as step_up_methods
from tests import totp as totp_codes

PG_ADMIN_URL = os.environ.get(
    "CORE_BANKING_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
SERVICE_TOKEN = "test-service-token"
ISSUER = "test-issuer"
AUDIENCE = "test-audience"
# Children before parents, so foreign keys never block the cleanup.
TABLES_CHILD_FIRST = (
    "audit_log",
    "login_failures",
    "code_lookup_failures",
    "gift_card_activities",
    "gift_cards",
    "idempotency_records",
    "transfer_daily_usage",
    "transfers",
    "holds",
    "step_up_factors",
    "ledger_entries",
    "journals",
    "cards",
    "payees",
    "accounts",
    "customers",
    "staff_users",
)


@pytest.fixture(scope="session", autouse=True)
def _fast_seed_hashing() -> Iterator[None]:
    """Seeding hashes two passwords with argon2 (~0.3 s each) on every run; the hashes
    are still real argon2 hashes, just computed once per test session."""
    cached = functools.lru_cache(maxsize=8)(seed_module.hash_password)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(seed_module, "hash_password", cached)
        yield


@dataclass(frozen=True)
class Keys:
    private_pem: bytes
    public_path: Path


@pytest.fixture(scope="session")
def rsa_keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_path = tmp_path_factory.mktemp("keys") / "jwt-public.pem"
    public_path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return Keys(private_pem=private_pem, public_path=public_path)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database on the real server, dropped at the end of the session."""
    name = f"cb_test_{secrets.token_hex(6)}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}")
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'core_banking.sqlite3'}"


def make_settings(database_url: str, keys: Keys, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "app_env": "test",
        "database_url": database_url,
        "jwt_public_key_file": keys.public_path,
        "jwt_issuer": ISSUER,
        "jwt_audience": AUDIENCE,
        "service_token": SERVICE_TOKEN,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture(scope="session")
def migrated_urls(postgres_url: str, sqlite_url: str, rsa_keys: Keys) -> dict[str, str]:
    # Sync session fixture: no event loop is running here, so asyncio.run is allowed.
    urls = {"postgresql": postgres_url, "sqlite": sqlite_url}
    for url in urls.values():
        asyncio.run(migrate.upgrade(make_settings(url, rsa_keys)))
    return urls


@pytest.fixture(params=["postgresql", "sqlite"])
def settings(
    request: pytest.FixtureRequest, migrated_urls: dict[str, str], rsa_keys: Keys
) -> Settings:
    return make_settings(migrated_urls[request.param], rsa_keys)


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    try:
        yield engine
    finally:
        async with engine.begin() as connection:
            # Replacement cards reference the card they replace (ON DELETE RESTRICT).
            await connection.execute(text("UPDATE cards SET replaced_by_id = NULL"))
            for table in TABLES_CHILD_FIRST:
                await connection.execute(text(f"DELETE FROM {table}"))
        await engine.dispose()


@pytest.fixture
def session_factory(engine: AsyncEngine) -> Callable[[], AsyncSession]:
    return create_sessionmaker(engine)


@pytest.fixture
def run_seed(
    session_factory: Callable[[], AsyncSession], settings: Settings
) -> Callable[[int], Any]:
    # Without back-dated history by default: it is ~7x the journals and most tests do
    # not need it (tests of history pass history=True).
    async def _run(customers: int, history: bool = False) -> SeedReport:
        async with session_factory() as session, session.begin():
            return await seed(session, customers, settings, history=history)

    return _run


@pytest.fixture
async def seeded(run_seed: Callable[[int], Any]) -> SeedReport:
    report: SeedReport = await run_seed(3)
    return report


@pytest.fixture
async def app(settings: Settings, engine: AsyncEngine) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    yield application
    await application.state.engine.dispose()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://core-banking") as c:
        yield c


async def customer_id(session_factory: Callable[[], AsyncSession], username: str) -> str:
    async with session_factory() as session:
        value = await session.scalar(
            text("SELECT id FROM customers WHERE username = :u"), {"u": username}
        )
    assert value is not None, username
    return str(value)


def claims(sub: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    values: dict[str, Any] = {
        "sub": sub,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
        "roles": ["customer"],
        "name": "Test Customer",
        "username": "demo001",
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


@pytest.fixture
def sign(rsa_keys: Keys) -> Callable[..., str]:
    """Sign claims as the gateway would (RS256, kid header)."""

    def _sign(payload: dict[str, Any], key: bytes | None = None) -> str:
        return jwt.encode(
            payload,
            (key or rsa_keys.private_pem).decode(),
            algorithm="RS256",
            headers={"kid": "test-1"},
        )

    return _sign


def forge_hs256(payload: dict[str, Any], secret: bytes) -> str:
    """The classic alg-confusion attack: HMAC-sign with the *public* key as the secret.

    Built by hand because python-jose refuses to use a PEM as an HMAC key when signing.
    """

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(payload).encode())
    signature = hmac.new(secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64(signature)}"


class TotpClock:
    """A frozen TOTP clock (mid-step) for core_banking, so tests pick exact time steps."""

    def __init__(self, at: float) -> None:
        self.at = at

    def code(self, steps: int = 0, secret: str = totp_codes.DEMO_TOTP_SECRET) -> str:
        """The code an authenticator shows `steps` x 30 s from now."""
        return totp_codes.code_at(self.at + 30 * steps, secret)

    def wrong(self) -> str:
        return totp_codes.wrong_code(self.at)


@pytest.fixture
def totp(monkeypatch: pytest.MonkeyPatch) -> TotpClock:
    clock = TotpClock(float(int(time.time()) // 30 * 30 + 15))
    monkeypatch.setattr(step_up_methods, "now", lambda: clock.at)
    return clock
