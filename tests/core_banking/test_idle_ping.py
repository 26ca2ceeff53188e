"""Pooled connections are pinged at checkout only after sitting idle (core_banking.db):
one whose backend died while idle is replaced; one in steady use costs no round trip."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from core_banking.db import create_engine
from tests.core_banking.conftest import PG_ADMIN_URL, Keys, make_settings


async def backend_pid(engine: Any) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_a_connection_whose_backend_died_while_idle_is_replaced(
    migrated_urls: dict[str, str], rsa_keys: Keys
) -> None:
    settings = make_settings(migrated_urls["postgresql"], rsa_keys, database_idle_ping_seconds=0)
    engine = create_engine(settings)
    try:
        pid = await backend_pid(engine)  # back in the pool, idle
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            for _ in range(200):  # bounded: the backend exits within milliseconds
                gone = admin.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)
                ).fetchone()
                if gone == (0,):
                    break
                await asyncio.sleep(0.01)
        # Without the ping this checkout hands out the dead connection and the
        # statement fails ("terminating connection due to administrator command").
        assert await backend_pid(engine) != pid
    finally:
        await engine.dispose()


@pytest.mark.parametrize(("idle_seconds", "pings"), [(3600.0, 0), (0.0, 5)])
async def test_only_an_idle_connection_is_pinged(
    migrated_urls: dict[str, str],
    rsa_keys: Keys,
    monkeypatch: pytest.MonkeyPatch,
    idle_seconds: float,
    pings: int,
) -> None:
    settings = make_settings(
        migrated_urls["postgresql"], rsa_keys, database_idle_ping_seconds=idle_seconds
    )
    engine = create_engine(settings)
    count = 0
    real_ping = engine.dialect.do_ping

    def counting_ping(dbapi_connection: Any) -> bool:
        nonlocal count
        count += 1
        return bool(real_ping(dbapi_connection))

    monkeypatch.setattr(engine.dialect, "do_ping", counting_ping)
    try:
        pids = {await backend_pid(engine) for _ in range(5)}
        assert len(pids) == 1  # one pooled connection, reused
        assert count == pings
    finally:
        await engine.dispose()
