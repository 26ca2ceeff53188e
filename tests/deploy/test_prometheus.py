"""deploy/prometheus/ and deploy/grafana/: the rules are valid (`promtool check rules`),
fire and stay quiet as intended on synthetic series (`promtool test rules`), every alert
says how bad it is and where its runbook is, and every series the rules and the
dashboard read is either exported by a service today or listed in docs/operations.md as
one still to be added."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
RULE_FILES = sorted((PROMETHEUS / "rules").glob("*.yml"))
DASHBOARD = ROOT / "deploy" / "grafana" / "banking-assistant.json"
RUNBOOK = ROOT / "docs" / "operations.md"
SERVICE_PACKAGES = ("gateway", "core_banking", "actions")
# Series Prometheus makes itself.
BUILTIN = {"up"}

needs_promtool = pytest.mark.skipif(
    shutil.which("promtool") is None,
    reason="promtool is not installed (apt-get install prometheus; scripts/ensure_promtool.sh)",
)


def rules() -> list[dict[str, Any]]:
    found = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            found += group["rules"]
    return found


def dashboard_exprs() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [t["expr"] for p in panels for t in p["targets"]]


@cache
def exported_series() -> set[str]:
    """Series the services' Python code registers (prometheus_client naming)."""
    suffixes = {
        "Counter": ["_total"],
        "Gauge": [""],
        "Histogram": ["_bucket", "_count", "_sum"],
        "Summary": ["_count", "_sum"],
    }
    series = set()
    for package in SERVICE_PACKAGES:
        for source in (ROOT / package).rglob("*.py"):
            for kind, name in re.findall(
                r"\b(Counter|Gauge|Histogram|Summary)\(\s*\"(\w+)\"", source.read_text()
            ):
                series |= {name.removesuffix("_total") + s for s in suffixes[kind]}
    return series


def documented_series() -> dict[str, str]:
    """docs/operations.md's table of series: name -> its status column."""
    section = RUNBOOK.read_text().split("### Series the rules read", 1)[1].split("\n#", 1)[0]
    rows = re.findall(r"^\| `(\w+)(?:\{[^}]*\})?` \|[^|]*\| ([^|]+) \|", section, re.M)
    return {name: status.strip() for name, status in rows}


def series_in(expr: str) -> set[str]:
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    without_labels = re.sub(r"\{[^}]*\}", "", without_strings)
    names = set(re.findall(r"\b([a-z_][a-z0-9_:]*)\s*(?=[\[{)\s/]|$)", without_labels))
    return {n for n in names if n.startswith(("gateway", "core_banking")) or n in BUILTIN}


@needs_promtool
def test_rule_files_are_valid() -> None:
    done = subprocess.run(
        ["promtool", "check", "rules", *map(str, RULE_FILES)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("SUCCESS") == len(RULE_FILES)


@needs_promtool
def test_alerts_fire_and_stay_quiet_as_intended() -> None:
    done = subprocess.run(
        ["promtool", "test", "rules", "tests/rules_test.yml"],
        cwd=PROMETHEUS,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_objectives_are_the_agreed_ones() -> None:
    alerts = {r["alert"]: r for r in rules() if "alert" in r}
    assert "(1 - 0.9995)" in alerts["ChatAvailabilityFastBurn"]["expr"]  # 99.95 %
    assert "(1 - 0.99)" in alerts["ChatLatencyFastBurn"]["expr"]
    slow = {
        r["record"]: r["expr"]
        for r in rules()
        if r.get("record", "").startswith("gateway:turn_slow")
    }
    assert slow and all('le="2.0"' in expr for expr in slow.values())  # 2 s


def test_every_alert_says_its_severity_and_runbook() -> None:
    runbook = RUNBOOK.read_text()
    alerts = [r for r in rules() if "alert" in r]
    assert len(alerts) >= 8
    for alert in alerts:
        assert alert["labels"]["severity"] in {"page", "ticket"}, alert["alert"]
        annotations = alert["annotations"]
        assert annotations["summary"] and annotations["description"], alert["alert"]
        path, _, anchor = annotations["runbook_url"].partition("#")
        assert (ROOT / path).is_file(), alert["alert"]
        assert re.search(rf"^#+ {anchor}$", runbook, re.M | re.I), anchor
        assert f"`{alert['alert']}`" in runbook, f"{alert['alert']} has no runbook entry"


def test_recorded_series_are_defined_before_use() -> None:
    recorded = {r["record"] for r in rules() if "record" in r}
    used = {n for r in rules() for n in series_in(r["expr"]) if ":" in n}
    used |= {n for e in dashboard_exprs() for n in series_in(e) if ":" in n}
    assert used <= recorded, used - recorded


def test_every_series_read_is_exported_or_listed_as_to_add() -> None:
    documented = documented_series()
    read = {n for r in rules() for n in series_in(r["expr"]) if ":" not in n}
    read |= {n for e in dashboard_exprs() for n in series_in(e) if ":" not in n}
    assert read, "no series found: the parser is broken"
    for name in read - BUILTIN:
        family = re.sub(r"_(bucket|count|sum)$", "", name)
        if name in exported_series():
            assert family in documented or name in documented, f"{name} not in the table"
        else:
            status = documented.get(family) or documented.get(name)
            assert status and status.startswith("to add"), f"{name} is exported by nothing"


def test_series_listed_as_exported_are_exported() -> None:
    for name, status in documented_series().items():
        if status == "exported":
            assert name in exported_series() or f"{name}_bucket" in exported_series(), name


def test_dashboard_shows_what_operators_watch() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    titles = " ".join(p["title"].lower() for p in dashboard["panels"])
    for topic in ("latency", "fallback", "handoffs", "error", "transfers", "availability"):
        assert topic in titles, topic
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["targets"] and all(t["expr"] for t in panel["targets"]), panel["title"]
        assert panel["datasource"]["uid"] == "${datasource}"


def test_example_prometheus_config_loads_the_rules() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    loaded = {(PROMETHEUS / f).resolve() for f in config["rule_files"]}
    assert loaded == {p.resolve() for p in RULE_FILES}
