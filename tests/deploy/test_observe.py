"""``make observe``: Debian's Prometheus, with the generated configuration, scrapes the
gateway, core_banking and the action server, started as ``make run`` starts them (no
Rasa: nothing here needs a model), and every target is up with the series the rules
read. Skipped without the ``prometheus`` binary (``scripts/ensure_promtool.sh``)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote
from urllib.request import urlopen

import pytest

from scripts.observe import prometheus_command, scrape_targets, write_config
from scripts.ports import free_port
from scripts.stack import Stack
from tests.support import fresh_postgres_database, key_pair

pytestmark = pytest.mark.skipif(
    shutil.which("prometheus") is None,
    reason="prometheus is not installed (apt-get install prometheus)",
)


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    private_key, public_key = key_pair(tmp_path_factory.mktemp("keys"))
    with fresh_postgres_database("observe") as database_url:
        env = {
            "PATH": "/usr/bin:/bin",
            "APP_ENV": "test",
            "DATABASE_URL": database_url,
            "REDIS_KEY_PREFIX": f"observe-{uuid.uuid4().hex[:8]}:",
            "JWT_PRIVATE_KEY_FILE": str(private_key),
            "JWT_PUBLIC_KEY_FILE": str(public_key),
            "TRANSCRIPT_DATABASE_URL": "sqlite+aiosqlite:///"
            + str(tmp_path_factory.mktemp("transcripts") / "t.sqlite3"),
            "GATEWAY_PORT": str(free_port()),
            "CORE_BANKING_PORT": str(free_port()),
            "RASA_PORT": str(free_port()),
            "ACTION_SERVER_PORT": str(free_port()),
        }
        stack = Stack(Path("unused-model"), env=env, log_dir=tmp_path_factory.mktemp("logs"))
        stack.prepare_database(seed_customers=None)
        try:
            stack.start(only=("core_banking", "actions", "gateway"))
            yield stack
        finally:
            stack.stop()


def api(port: int, path: str) -> Any:
    with urlopen(f"http://127.0.0.1:{port}/api/v1/{path}", timeout=5) as response:
        return json.load(response)["data"]


def query(port: int, promql: str) -> list[dict[str, Any]]:
    return list(api(port, "query?query=" + quote(promql))["result"])


def test_prometheus_scrapes_every_service(services: Stack, tmp_path: Path) -> None:
    targets = scrape_targets(services.env)
    assert set(targets) == {"gateway", "core_banking", "actions"}
    assert scrape_targets({"GATEWAY_INSTANCES": "2"})["gateway"] == [
        "127.0.0.1:8000",
        "127.0.0.1:8010",
    ]
    config = write_config(tmp_path / "prometheus.yml", targets, interval="1s")
    port = free_port()
    prometheus = subprocess.Popen(
        prometheus_command(config, tmp_path / "data", port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        health: dict[str, str] = {}
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                active = api(port, "targets")["activeTargets"]
                health = {t["labels"]["job"]: t["health"] for t in active}
            except OSError:
                pass  # not listening yet
            if health and set(health.values()) == {"up"}:
                break
            time.sleep(0.5)
        assert health == {"gateway": "up", "core_banking": "up", "actions": "up"}
        # Every service's own series, and one the rules read, are stored.
        jobs = query(port, "count by (job) (process_cpu_seconds_total)")
        assert {r["metric"]["job"] for r in jobs} == set(targets)
        assert query(port, "gateway_fallbacks_total"), "no fallback counter"
    finally:
        prometheus.terminate()
        prometheus.wait(15)


def test_service_logs_are_json_lines_only(services: Stack) -> None:
    # Requests, so that uvicorn's and Sanic's loggers have written something too.
    for name in ("gateway", "core_banking", "actions"):
        with urlopen(services.urls[name] + "/health", timeout=5) as response:
            assert response.status == 200
    time.sleep(0.5)  # the log pump copies asynchronously; nothing is asserted on time
    for name in ("gateway", "core_banking", "actions"):
        lines = (services.log_dir / f"{name}.log").read_text().splitlines()
        assert lines, name
        for line in lines:
            entry = json.loads(line)
            assert {"ts", "level", "service", "msg"} <= set(entry), line
            assert entry["service"] == name, line
