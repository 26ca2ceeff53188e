from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from core_banking.settings import Settings
from core_banking.verify_ledger import verify
from tests.core_banking.helpers import SessionFactory

REPO = Path(__file__).resolve().parents[2]


async def test_seeded_ledger_verifies(
    run_seed: Callable[..., Any], session_factory: SessionFactory
) -> None:
    await run_seed(2, history=True)
    async with session_factory() as s:
        report = await verify(s)
    assert report.ok, report.problems
    assert report.customer_totals == {"EUR": 2 * 600_000}
    assert report.bank_totals == {"EUR": -2 * 600_000}
    assert report.journals == 2 * 14


async def test_each_kind_of_discrepancy_is_found(
    seeded: Any, session_factory: SessionFactory
) -> None:
    async with session_factory() as s, s.begin():
        # A cached balance drifting from its entries (and so the currency total too).
        await s.execute(
            text(
                "UPDATE accounts SET balance_minor = balance_minor + 1 "
                "WHERE number = (SELECT min(number) FROM accounts WHERE customer_id IS NOT NULL)"
            )
        )
        # A one-legged change to an entry: its journal no longer balances.
        await s.execute(
            text(
                "UPDATE ledger_entries SET amount_minor = amount_minor + 5 "
                "WHERE id = (SELECT min(id) FROM ledger_entries)"
            )
        )
    async with session_factory() as s:
        report = await verify(s)
    assert not report.ok
    text_report = "\n".join(report.problems)
    assert "sums to 5 EUR" in text_report  # the journal
    assert "balance" in text_report and "!= entries" in text_report
    assert "EUR balances sum to 1, not 0" in text_report


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)  # one backend is enough
def test_cli_exit_codes(settings: Settings, seeded: Any) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "DATABASE_URL": settings.database_url}

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "core_banking.verify_ledger"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    good = run()
    assert good.returncode == 0, good.stdout + good.stderr
    assert "EUR: customer accounts 1800000, bank accounts -1800000, sum 0" in good.stdout
    assert "ledger OK" in good.stdout
    database = settings.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE accounts SET balance_minor = balance_minor - 7")
    bad = run()
    assert bad.returncode == 1
    assert "DISCREPANCY" in bad.stdout
