"""`make drill` end to end: a throwaway PostgreSQL cluster with WAL archiving, a base
backup, and a point-in-time restore that must hold exactly the transfers made before the
recovery target (scripts/drill.py does the checking; here its verdict and its report
are checked). Takes about 10 s on the development machine."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def postgres_binaries_present() -> bool:
    return bool(shutil.which("pg_config") or list(Path("/usr/lib/postgresql").glob("*/bin/initdb")))


@pytest.mark.skipif(not postgres_binaries_present(), reason="PostgreSQL server binaries absent")
def test_point_in_time_restore_holds_exactly_the_transfers_before_the_target() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "scripts.drill", "--customers", "2", "--transfers", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("drill ok"), done.stdout
    counts = re.search(
        r"A (\d+) \(before backup\), B (\d+) \(before T\), C (\d+) \(after T\); "
        r"restored (\d+)",
        done.stdout,
    )
    assert counts is not None, done.stdout
    a, b, c, restored = map(int, counts.groups())
    assert (a, b, c) == (4, 4, 4)
    assert restored == a + b
    assert re.search(r"balances +all \d+ accounts as they were at T", done.stdout)
    assert "ledger OK" in done.stdout
    removed = re.search(r"work directory removed: (\S+)", done.stderr)
    assert removed is not None, done.stderr
    assert not Path(removed.group(1)).exists()
