from __future__ import annotations

import os
import secrets
import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from core_banking import migrate
from core_banking.db import create_engine, create_sessionmaker
from core_banking.models import Account
from core_banking.seed import seed
from core_banking.settings import Settings
from tests.core_banking.conftest import PG_ADMIN_URL, Keys, make_settings

REPO = Path(__file__).resolve().parents[2]
EXPECTED_TABLES = {
    "alembic_version",
    "login_failures",
    "customers",
    "staff_users",
    "accounts",
    "journals",
    "ledger_entries",
    "cards",
    "payees",
    "transfers",
    "idempotency_records",
    "gift_cards",
    "gift_card_activities",
    "code_lookup_failures",
    "audit_log",
    "holds",
    "step_up_factors",
    "transfer_daily_usage",
}


async def test_migrations_reach_head_on_both_backends(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        version = await connection.scalar(text("SELECT version_num FROM alembic_version"))
    assert tables >= EXPECTED_TABLES
    assert version == "0008"


async def test_upgrade_is_idempotent_and_downgrade_round_trips(
    tmp_path: Path, rsa_keys: Keys
) -> None:
    settings: Settings = make_settings(f"sqlite:///{tmp_path / 'rt.sqlite3'}", rsa_keys)
    await migrate.upgrade(settings)
    await migrate.upgrade(settings)  # second run is a no-op, not an error
    await migrate.downgrade(settings, "base")
    await migrate.upgrade(settings)


def test_migrate_and_seed_clis_on_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "nested" / "cli.sqlite3"  # the folder does not exist yet
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "DATABASE_URL": f"sqlite:///{db}",
        "APP_ENV": "development",
    }

    def run(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", *args],
            cwd=tmp_path,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=60,
        )

    migrated = run("core_banking.migrate")
    assert migrated.returncode == 0, migrated.stderr
    seeded = run("core_banking.seed", "--customers", "2")
    assert seeded.returncode == 0, seeded.stderr
    assert "demo001, demo002" in seeded.stdout

    refused = run("core_banking.seed", "--customers", "2", APP_ENV="production")
    assert refused.returncode != 0
    assert "production" in refused.stderr


async def test_0002_backfills_history_columns_and_allows_lost_cards(
    tmp_path: Path, rsa_keys: Keys
) -> None:
    path = tmp_path / "old.sqlite3"
    settings: Settings = make_settings(f"sqlite:///{path}", rsa_keys)
    await migrate.upgrade(settings, "0001")
    day = "2024-01-0{} 00:00:00.000000"
    with sqlite3.connect(path) as db:  # rows as a 0001 database holds them
        db.execute("INSERT INTO customers VALUES ('c', 'u', 'U', 'h', ?)", (day.format(1),))
        db.execute(
            "INSERT INTO accounts VALUES ('a', 'c', 'DE1', NULL, 'checking', 'EUR', 150, 150, ?)",
            (day.format(1),),
        )
        db.execute(
            "INSERT INTO accounts VALUES ('f', NULL, 'DE2', 'funding', 'internal', 'EUR',"
            " -150, -150, ?)",
            (day.format(1),),
        )
        for n, amount in ((2, 100), (3, 50)):
            db.execute(
                "INSERT INTO journals VALUES (?, 'deposit', 'd', ?)", (f"j{n}", day.format(n))
            )
            db.execute(
                "INSERT INTO ledger_entries VALUES (?, ?, 'a', ?, 'EUR')",
                (f"a{n}", f"j{n}", amount),
            )
            db.execute(
                "INSERT INTO ledger_entries VALUES (?, ?, 'f', ?, 'EUR')",
                (f"f{n}", f"j{n}", -amount),
            )
        db.execute(
            "INSERT INTO cards VALUES"
            " ('k', 'c', 'a', '1234', 'VISA', 'debit', 'active', 1, 2030, ?)",
            (day.format(1),),
        )
    await migrate.upgrade(settings)
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT id, substr(booked_at, 1, 10), balance_after_minor"
            " FROM ledger_entries ORDER BY id"
        ).fetchall()
        assert rows == [
            ("a2", "2024-01-02", 100),
            ("a3", "2024-01-03", 150),
            ("f2", "2024-01-02", -100),
            ("f3", "2024-01-03", -150),
        ]
        codes = {r[0] for r in db.execute("SELECT system_code FROM accounts")}
        assert codes == {None, "funding", "clearing:EUR", "gift_card_liability:EUR"}
        db.execute("UPDATE cards SET status = 'lost'")  # the widened CHECK accepts it


async def test_0003_holds_the_amount_of_transfers_already_waiting_for_a_code(
    tmp_path: Path, rsa_keys: Keys
) -> None:
    path = tmp_path / "held.sqlite3"
    settings: Settings = make_settings(f"sqlite:///{path}", rsa_keys)
    await migrate.upgrade(settings, "0002")
    now = "2024-01-01 00:00:00.000000"
    later = "2999-01-01 00:00:00.000000"  # still waiting: its code has not expired
    with sqlite3.connect(path) as db:  # rows as a 0002 database holds them
        db.execute("INSERT INTO customers VALUES ('c', 'u', 'U', 'h', ?)", (now,))
        db.execute(
            "INSERT INTO accounts (id, customer_id, number, system_code, type, currency,"
            " balance_minor, available_minor, created_at)"
            " VALUES ('a', 'c', 'DE1', NULL, 'checking', 'EUR', 900, 900, ?)",
            (now,),
        )
        for transfer_id, status, expires in (
            ("held", "requires_confirmation", later),
            ("gone", "cancelled", None),
        ):
            db.execute(
                "INSERT INTO transfers (id, customer_id, from_account_id, to_account_id,"
                " to_account_number, kind, amount_minor, currency, reference, status,"
                " risk_reasons, otp_hash, otp_expires_at, otp_attempts, created_at)"
                " VALUES (?, 'c', 'a', 'a', 'DE2', 'external', 300, 'EUR', '', ?,"
                " 'velocity', 'x', ?, 0, ?)",
                (transfer_id, status, expires, now),
            )
    await migrate.upgrade(settings)
    with sqlite3.connect(path) as db:
        holds = db.execute(
            "SELECT t.id, h.account_id, h.amount_minor, h.status, substr(h.expires_at, 1, 4)"
            " FROM transfers t JOIN holds h ON h.id = t.hold_id"
        ).fetchall()
        assert holds == [("held", "a", 300, "active", "2999")]
        columns = {row[1] for row in db.execute("PRAGMA table_info(accounts)")}
        assert "available_minor" not in columns  # computed from the holds now
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session:
            account = await session.get(Account, "a")
            assert account is not None and account.available_minor == 600
    finally:
        await engine.dispose()
    await migrate.downgrade(settings, "0002")
    with sqlite3.connect(path) as db:
        available = db.execute("SELECT available_minor FROM accounts WHERE id = 'a'")
        assert available.fetchall() == [(900,)]
        expiry = db.execute("SELECT otp_expires_at FROM transfers WHERE id = 'held'").fetchone()
        assert str(expiry[0]).startswith("2999")


async def test_0008_counts_completed_transfers_into_daily_usage(rsa_keys: Keys) -> None:
    """On PostgreSQL (the backfill's day is `AT TIME ZONE 'UTC'`): completed non-own
    transfers are summed per customer and UTC day; own, held and cancelled ones are not."""
    name = f"cb_mig_{secrets.token_hex(4)}"
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    settings = make_settings(f"{base}/{name}", rsa_keys)
    try:
        await migrate.upgrade(settings, "0007")
        engine = create_engine(settings)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                await seed(session, 2, settings, history=False)
        finally:
            await engine.dispose()
        with psycopg.connect(f"{base}/{name}", autocommit=True) as db:
            db.execute("SET TIME ZONE 'Europe/Berlin'")  # the session's zone must not matter
            ids = db.execute(
                "SELECT a.customer_id, a.id FROM accounts a JOIN customers c"
                " ON c.id = a.customer_id WHERE a.type = 'checking' ORDER BY c.username"
            ).fetchall()
            (payer, source), (_, target) = ids
            for n, (kind, status, amount, created) in enumerate(
                [
                    ("internal", "completed", 100, "2026-03-01 23:30:00+00"),
                    # 00:30 in Berlin is 23:30 UTC on the day before: the same UTC day.
                    ("external", "completed", 20, "2026-03-02 00:30:00+01"),
                    ("internal", "completed", 7, "2026-03-02 00:30:00+00"),
                    ("own", "completed", 1000, "2026-03-01 12:00:00+00"),
                    ("internal", "cancelled", 3000, "2026-03-01 12:00:00+00"),
                    ("internal", "requires_confirmation", 5000, "2026-03-01 12:00:00+00"),
                ]
            ):
                db.execute(
                    "INSERT INTO transfers (id, created_at, customer_id, from_account_id,"
                    " to_account_id, to_account_number, kind, amount_minor, currency,"
                    " reference, status, risk_reasons, otp_attempts) VALUES (%s, %s, %s, %s,"
                    " %s, 'x', %s, %s, 'EUR', '', %s, '', 0)",
                    (f"t{n}", created, payer, source, target, kind, amount, status),
                )
        await migrate.upgrade(settings)
        with psycopg.connect(f"{base}/{name}") as db:
            rows = db.execute(
                "SELECT customer_id, day::text, completed_minor FROM transfer_daily_usage"
                " ORDER BY day"
            ).fetchall()
        assert rows == [(payer, "2026-03-01", 120), (payer, "2026-03-02", 7)]
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
