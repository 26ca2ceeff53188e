from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from core_banking import migrate
from core_banking.settings import Settings
from tests.core_banking.conftest import Keys, make_settings

REPO = Path(__file__).resolve().parents[2]
EXPECTED_TABLES = {
    "alembic_version",
    "customers",
    "staff_users",
    "accounts",
    "journals",
    "ledger_entries",
    "cards",
    "payees",
}


async def test_migrations_reach_head_on_both_backends(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        version = await connection.scalar(text("SELECT version_num FROM alembic_version"))
    assert tables >= EXPECTED_TABLES
    assert version == "0001"


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
