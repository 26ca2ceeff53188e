"""The load testers' tool works against the whole running system: Locust
(bench/locustfile.py) runs headless for a few seconds with a handful of chat users, and
every login, hello, resume and turn it made succeeded. Counts, not timings."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.stack import Stack

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_locust_drives_conversations_without_failures(stack: Stack, tmp_path: Path) -> None:
    locust = Path(sys.executable).parent / "locust"
    prefix = tmp_path / "run"
    env = {**os.environ, "LOAD_CUSTOMERS": "3", "LOAD_GUEST_SHARE": "0.25"}
    result = subprocess.run(
        [
            str(locust),
            "-f",
            str(ROOT / "bench" / "locustfile.py"),
            "--headless",
            "--host",
            stack.urls["gateway"],
            "-u",
            "4",
            "-r",
            "4",
            "-t",
            "20s",
            "--csv",
            str(prefix),
            "--only-summary",
            "--stop-timeout",
            "60",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    with open(f"{prefix}_stats.csv", newline="") as stats_file:
        stats = {row["Name"]: row for row in csv.DictReader(stats_file)}
    assert result.returncode == 0, result.stderr[-3000:]
    total = stats.pop("Aggregated")
    assert int(total["Failure Count"]) == 0, stats
    assert int(stats["WS hello"]["Request Count"]) == 4
    turns = sum(
        int(row["Request Count"]) for name, row in stats.items() if name.startswith("turn: ")
    )
    assert turns >= 4, stats
