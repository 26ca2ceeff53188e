"""docker-compose.yml is checked against the code, since no Docker engine runs here:
every service exists, is health-checked, starts after healthy dependencies, publishes the
port its code listens on, and sets only environment variables its code reads."""

import ast
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from core_banking.settings import Settings as CoreBankingSettings
from gateway.settings import Settings as GatewaySettings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
APP_SERVICES = {"core_banking": 8001, "actions": 5055, "rasa": 5005, "gateway": 8000}


def action_settings_fields() -> set[str]:
    """Fields of actions/settings.py (a Python 3.10 service: read, not imported)."""
    tree = ast.parse((ROOT / "actions" / "settings.py").read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "ActionSettings")
    fields = (n for n in cls.body if isinstance(n, ast.AnnAssign))
    return {n.target.id for n in fields if isinstance(n.target, ast.Name)}


def env_vars_read(service: str) -> set[str]:
    if service == "core_banking":
        return {name.upper() for name in CoreBankingSettings.model_fields}
    if service == "gateway":
        return {name.upper() for name in GatewaySettings.model_fields}
    if service == "actions":
        return {name.upper() for name in action_settings_fields()}
    if service == "rasa":
        return set(re.findall(r"\$\{(\w+)\}", (ROOT / "bot" / "endpoints.yml").read_text()))
    raise AssertionError(service)


def test_every_part_of_the_system_is_a_service() -> None:
    assert {"postgres", "redis", *APP_SERVICES} <= set(SERVICES)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_long_running_services_are_health_checked(name: str) -> None:
    if name == "keys":  # one-shot job
        return
    assert "healthcheck" in SERVICES[name], name


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_dependencies_wait_for_health(name: str) -> None:
    for dependency, rule in SERVICES[name].get("depends_on", {}).items():
        assert dependency in SERVICES
        expected = "service_completed_successfully" if dependency == "keys" else "service_healthy"
        assert rule == {"condition": expected}, (name, dependency)


@pytest.mark.parametrize(("name", "port"), sorted(APP_SERVICES.items()))
def test_ports_match_the_code(name: str, port: int) -> None:
    service = SERVICES[name]
    assert service["ports"] == [f"{port}:{port}"]
    command = service["command"]
    command = command if isinstance(command, str) else " ".join(command)
    port_variable = {"gateway": "GATEWAY_PORT", "core_banking": "CORE_BANKING_PORT"}.get(name)
    listens_on = f"--port {port}" in command or (
        port_variable is not None and service["environment"].get(port_variable) == str(port)
    )
    assert listens_on, f"{name} does not listen on {port}"
    assert f":{port}/" in " ".join(service["healthcheck"]["test"])
    defaults = {
        "core_banking": CoreBankingSettings.model_fields["core_banking_port"].default,
        "gateway": GatewaySettings.model_fields["gateway_port"].default,
        "actions": 5055,
        "rasa": 5005,
    }
    assert defaults[name] == port


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_environment_is_what_the_code_reads(name: str) -> None:
    environment = set(SERVICES[name].get("environment", {}))
    unknown = environment - env_vars_read(name)
    assert not unknown, f"{name} sets variables its code never reads: {unknown}"


def test_rasa_gets_every_variable_its_endpoints_need() -> None:
    assert env_vars_read("rasa") <= set(SERVICES["rasa"]["environment"])


def test_service_urls_point_at_services_and_their_ports() -> None:
    urls = {
        **SERVICES["gateway"]["environment"],
        **{f"actions.{k}": v for k, v in SERVICES["actions"]["environment"].items()},
        "rasa.ACTION_ENDPOINT_URL": SERVICES["rasa"]["environment"]["ACTION_ENDPOINT_URL"],
    }
    for key, value in urls.items():
        if not key.endswith("_URL") or not isinstance(value, str):
            continue
        parsed = urlparse(value)
        host = parsed.hostname
        assert host in SERVICES, (key, value)
        if host in APP_SERVICES:
            assert parsed.port == APP_SERVICES[host], (key, value)


def test_dockerfiles_exist() -> None:
    for name, service in SERVICES.items():
        build = service.get("build")
        if build:
            assert (ROOT / build["context"] / build["dockerfile"]).is_file(), name
