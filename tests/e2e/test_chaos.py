"""The chaos run (scripts/chaos.py) at a small N under a `make run-scaled` stack:
conversations through HAProxy while gateways, Rasa servers and action servers are
SIGKILLed at random. Every acknowledged turn is answered exactly once, every
transcript is complete, and no money moves twice."""

import asyncio
from pathlib import Path

import pytest

from scripts.chaos import failed, run_chaos, scaled_stack

pytestmark = pytest.mark.e2e


def test_forty_conversations_with_random_kills(tmp_path: Path) -> None:
    with scaled_stack(customers=10, workdir=tmp_path) as stack:
        report = asyncio.run(
            run_chaos(stack, conversations=40, customers=10, concurrency=8, kill_every=10.0)
        )
    print(report)
    assert sum(report["kills"].values()) > 0, report
    assert report["turns_acknowledged"] == report["turns_sent"] == 200, report
    assert failed(report) == [], report
    assert report["duplicated_money_moves"] == 0, report
