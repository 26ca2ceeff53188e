"""``make observe``: Debian's Prometheus against the running stack (``make run``).

Writes ``var/observe/prometheus.yml`` scraping the three ``/metrics`` URLs (gateway,
core_banking, action server; ports from the same variables as ``make run``) with the
recording and alerting rules of ``deploy/prometheus/rules/``, then runs ``prometheus``
in the foreground on ``OBSERVE_PORT`` (default 9090) with its data in ``var/observe/``.
Ctrl-C stops it. ``/usr/bin/prometheus`` comes from the ``prometheus`` package
(``scripts/ensure_promtool.sh`` installs it as root, or ``apt-get install prometheus``).

    python scripts/observe.py          # then http://127.0.0.1:9090/targets
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
RULES = sorted((ROOT / "deploy" / "prometheus" / "rules").glob("*.yml"))
WORK_DIR = ROOT / "var" / "observe"


def scrape_targets(env: Mapping[str, str]) -> dict[str, list[str]]:
    """job → host:port of each instance that serves ``GET /metrics``: the ports of
    ``make run``, and with ``GATEWAY_INSTANCES`` (``make run-scaled``) every gateway, on
    ``GATEWAY_PORT`` + 10, + 20 … as ``scripts/stack.py`` starts them."""
    gateway = int(env.get("GATEWAY_PORT", "8000"))
    instances = int(env.get("GATEWAY_INSTANCES", "1"))
    return {
        "gateway": [f"127.0.0.1:{gateway + 10 * n}" for n in range(instances)],
        "core_banking": [f"127.0.0.1:{env.get('CORE_BANKING_PORT', '8001')}"],
        "actions": [f"127.0.0.1:{env.get('ACTION_SERVER_PORT', '5055')}"],
    }


def write_config(path: Path, targets: Mapping[str, list[str]], *, interval: str = "15s") -> Path:
    config = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(rule) for rule in RULES],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": hosts}]}
            for job, hosts in targets.items()
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def prometheus_command(config: Path, data_dir: Path, port: int) -> list[str]:
    binary = shutil.which("prometheus")
    if binary is None:
        raise SystemExit(
            "prometheus is not installed: apt-get install prometheus "
            "(scripts/ensure_promtool.sh does it when run as root)"
        )
    return [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={data_dir}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.format=json",
    ]


def main() -> int:
    port = int(os.environ.get("OBSERVE_PORT", "9090"))
    config = write_config(WORK_DIR / "prometheus.yml", scrape_targets(os.environ))
    command = prometheus_command(config, WORK_DIR / "data", port)
    print(
        f"[observe] Prometheus on http://127.0.0.1:{port}/targets (config {config}); "
        "Ctrl-C stops it",
        file=sys.stderr,
        flush=True,
    )
    try:
        return subprocess.run(command, check=False).returncode  # noqa: S603
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
