"""Starts the whole system as local processes, keeps it running, and stops it again.

`make run` uses it in the foreground; the end-to-end tests use `Stack` as a fixture, with
their own ports, database and Redis prefix. Each service logs JSON lines to its stdout,
which goes to `var/log/<name>.log`; anything else a process prints there (a C library's
warning, a traceback on stderr) is wrapped into a JSON line by ``pump_log``, so the file
holds JSON lines only.
A service that dies is started again (``Stack.supervise``: within 1-20 s, with backoff,
said on stderr); conversations carry on, since Rasa keeps trackers and locks in Redis.

    python scripts/stack.py run     # migrate, seed, start all four, print URLs, Ctrl-C stops
"""

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO
from urllib.error import URLError
from urllib.parse import urlparse
from urllib.request import urlopen

from scripts import scaled

ROOT = Path(__file__).resolve().parent.parent
APP_BIN = ROOT / ".venv" / "bin"
RASA_BIN = ROOT / ".venv-rasa" / "bin"
LOG_DIR = ROOT / "var" / "log"
MAX_BACKOFF_SECONDS = 20
STABLE_SECONDS = 60


@dataclass
class Ports:
    gateway: int = 8000
    core_banking: int = 8001
    rasa: int = 5005
    actions: int = 5055

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Ports":
        return cls(
            gateway=int(env.get("GATEWAY_PORT", 8000)),
            core_banking=int(env.get("CORE_BANKING_PORT", 8001)),
            rasa=int(env.get("RASA_PORT", 5005)),
            actions=int(env.get("ACTION_SERVER_PORT", 5055)),
        )


@dataclass
class Service:
    name: str
    command: list[str]
    health_url: str
    env: dict[str, str] = field(default_factory=dict)  # on top of the stack's environment
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    started_at: float = 0.0  # monotonic time of the last start
    restarts: int = 0  # consecutive restarts (reset once it has stayed up a while)
    due: float | None = None  # a dead service's next start


class StackError(RuntimeError):
    """A service could not start; the message names it and points at its log."""


class Stack:
    """The four services, wired to each other through environment variables only."""

    def __init__(
        self, model: Path, env: Mapping[str, str] | None = None, log_dir: Path = LOG_DIR
    ) -> None:
        base = dict(os.environ if env is None else env)
        self.ports = Ports.from_env(base)
        self.log_dir = log_dir
        self._stopping = False
        host = "127.0.0.1"
        self.urls = {
            "gateway": f"http://{host}:{self.ports.gateway}",
            "core_banking": f"http://{host}:{self.ports.core_banking}",
            "rasa": f"http://{host}:{self.ports.rasa}",
            "actions": f"http://{host}:{self.ports.actions}",
        }
        base.setdefault("CORE_BANKING_URL", self.urls["core_banking"])
        base.setdefault("RASA_URL", self.urls["rasa"])
        base.setdefault("ACTION_ENDPOINT_URL", f"{self.urls['actions']}/webhook")
        base["PYTHONPATH"] = str(ROOT)
        base.setdefault("GATEWAY_URL", self.urls["gateway"])
        # The stack's own credentials between its services (development defaults,
        # refused in production; see SECURITY.md). Each service reads them from its
        # environment, never from its command line, where `ps` would show them.
        base.setdefault("RASA_AUTH_TOKEN", "dev-rasa-token")
        base.setdefault("ACTION_SERVER_TOKEN", "dev-action-token")
        base["ACTION_SERVER_HOST"] = host
        base["CORE_BANKING_HOST"] = host
        base.update({k: v for k, v in rasa_store_env(base).items() if k not in base})
        base.update({k: v for k, v in event_broker_env(base).items() if k not in base})
        self.env = base
        p = self.ports
        self.services = [
            Service(
                "core_banking",
                [str(APP_BIN / "python"), "-m", "core_banking"],
                f"{self.urls['core_banking']}/health",
                env={"CORE_BANKING_PORT": str(p.core_banking)},
            ),
            Service(
                "actions",
                [str(RASA_BIN / "python"), "-m", "actions.server"],
                f"{self.urls['actions']}/health",
                env={"ACTION_SERVER_PORT": str(p.actions)},
            ),
            Service(
                "rasa",
                [
                    str(RASA_BIN / "python"),
                    "-m",
                    "bot.server",
                    "-i",
                    host,
                    "--port",
                    str(p.rasa),
                    "--model",
                    str(model),
                    "--endpoints",
                    "bot/endpoints.yml",
                    "--credentials",
                    "bot/credentials.yml",
                ],
                f"{self.urls['rasa']}/",
            ),
            # `python -m gateway` applies the WebSocket server limits (frame size,
            # no compression, pings) that a bare `uvicorn` command would not.
            Service(
                "gateway",
                [str(APP_BIN / "python"), "-m", "gateway"],
                f"{self.urls['gateway']}/health",
            ),
        ]
        # STACK_REPLICAS=N (make run-scaled: 2): N gateways, Rasa servers and action
        # servers behind HAProxy (scripts/scaled.py). GATEWAY_INSTANCES=N adds gateways
        # only (ports +10, +20 …), each reached directly.
        replicas = int(base.get("STACK_REPLICAS", 1))
        gateways = max(replicas, int(base.get("GATEWAY_INSTANCES", 1)))
        for n in range(1, gateways):
            port = p.gateway + 10 * n  # 8010: 8001 is core_banking
            self.urls[f"gateway-{n + 1}"] = f"http://{host}:{port}"
            self.services.append(
                Service(
                    f"gateway-{n + 1}",
                    [str(APP_BIN / "python"), "-m", "gateway"],
                    f"http://{host}:{port}/health",
                    env={"GATEWAY_PORT": str(port)},
                )
            )
        if replicas > 1:
            self._scale_out(replicas)

    def _scale_out(self, replicas: int) -> None:
        """Rasa and action server replicas, and HAProxy in front of each tier."""
        by_name = {s.name: s for s in self.services}
        lb = scaled.LbPorts.from_env(self.env)
        for n in range(1, replicas):
            for tier, port_flag in (("actions", None), ("rasa", "--port")):
                first = by_name[tier]
                port = (self.ports.actions if tier == "actions" else self.ports.rasa) + n
                command = list(first.command)
                env = dict(first.env)
                if port_flag:
                    command[command.index(port_flag) + 1] = str(port)
                else:
                    env["ACTION_SERVER_PORT"] = str(port)
                health = first.health_url.replace(f":{port - n}/", f":{port}/")
                self.services.append(Service(f"{tier}-{n + 1}", command, health, env=env))
        ports = {s.name: int(urlparse(s.health_url).port or 0) for s in self.services}
        tiers = [
            ("gateway", lb.gateway, "/health", True),
            ("rasa", lb.rasa, "/", False),
            ("actions", lb.actions, "/health", False),
        ]
        balancers = [
            scaled.Balancer(
                tier,
                port,
                path,
                [(n, ports[n]) for n in ports if n.split("-")[0] == tier],
                forwarded_for=public,
                retry_unanswered=tier == "actions",
            )
            for tier, port, path, public in tiers
        ]
        self.log_dir.mkdir(parents=True, exist_ok=True)
        config = self.log_dir / "haproxy.cfg"
        config.write_text(scaled.haproxy_config(balancers, lb.monitor))
        # Gateways reach Rasa, and Rasa the actions, through their balancers; the
        # gateways believe HAProxy's X-Forwarded-For (it is the only one on loopback).
        self.env["RASA_URL"] = f"http://{scaled.HOST}:{lb.rasa}"
        self.env["ACTION_ENDPOINT_URL"] = f"http://{scaled.HOST}:{lb.actions}/webhook"
        self.env["FORWARDED_ALLOW_IPS"] = scaled.HOST
        self.urls["balancer"] = f"http://{scaled.HOST}:{lb.gateway}"
        self.services.append(
            Service(
                "haproxy",
                [scaled.haproxy_binary(), "-db", "-f", str(config)],
                f"http://{scaled.HOST}:{lb.monitor}/ready",
            )
        )

    def prepare_database(self, seed_customers: int | None = 20) -> None:
        """Migrate core_banking's database and seed the demo data (idempotent)."""
        self._run_tool([str(APP_BIN / "python"), "-m", "core_banking.migrate"])
        if seed_customers is not None:
            self._run_tool(
                [
                    str(APP_BIN / "python"),
                    "-m",
                    "core_banking.seed",
                    "--customers",
                    str(seed_customers),
                ]
            )

    def _run_tool(self, command: list[str]) -> None:
        subprocess.run(command, cwd=ROOT, env=self.env, check=True)  # noqa: S603

    def start(self, timeout: float = 180.0, only: Collection[str] | None = None) -> None:
        """Start every service (or those named in ``only``) and return once they answer
        their health URL."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        chosen = [s for s in self.services if only is None or s.name in only]
        for service in chosen:
            self._spawn(service)
        deadline = time.monotonic() + timeout
        for service in chosen:
            self._wait_healthy(service, deadline)

    def _spawn(self, service: Service) -> None:
        log = open(self.log_dir / f"{service.name}.log", "ab")  # noqa: SIM115
        service.process = subprocess.Popen(  # noqa: S603
            service.command,
            cwd=ROOT,
            env={**self.env, **service.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        assert service.process.stdout is not None
        threading.Thread(
            target=pump_log,
            args=(service.process.stdout, log, service.name),
            daemon=True,
            name=f"log-{service.name}",
        ).start()
        service.started_at = time.monotonic()

    def supervise(self) -> list[str]:
        """Start again what died: the first try 1 s after it was seen dead, then 2, 4, 8,
        16 s, then every 20 s (always within 30 s); a service up for 60 s starts over
        at 1 s. Returns what it did, for the caller to print. Call it often (0.5 s)."""
        said = []
        now = time.monotonic()
        for service in self.services:
            process = service.process
            if process is None or self._stopping:
                continue
            if process.poll() is None:
                if service.restarts and now - service.started_at > STABLE_SECONDS:
                    service.restarts = 0
                continue
            if service.due is None:
                delay = min(2**service.restarts, MAX_BACKOFF_SECONDS)
                service.due = now + delay
                said.append(
                    f"[run] {service.name} exited with code {process.returncode}; "
                    f"starting it again in {delay} s (log: "
                    f"{self.log_dir / (service.name + '.log')})"
                )
            elif now >= service.due:
                service.due = None
                service.restarts += 1
                self._spawn(service)
                said.append(f"[run] {service.name} started again (restart {service.restarts})")
        return said

    def supervise_in_background(self, interval: float = 0.5) -> threading.Event:
        """``supervise`` in a daemon thread until the returned event is set (tests)."""
        done = threading.Event()

        def loop() -> None:
            while not done.wait(interval):
                for line in self.supervise():
                    print(line, file=sys.stderr, flush=True)

        threading.Thread(target=loop, daemon=True, name="stack-supervisor").start()
        return done

    def _wait_healthy(self, service: Service, deadline: float) -> None:
        assert service.process is not None
        while time.monotonic() < deadline:
            if service.process.poll() is not None:
                raise StackError(
                    f"{service.name} exited with {service.process.returncode}; "
                    f"see {self.log_dir / (service.name + '.log')}"
                )
            if _answers(service.health_url):
                return
            time.sleep(0.3)
        raise StackError(
            f"{service.name} not healthy at {service.health_url} in time; "
            f"see {self.log_dir / (service.name + '.log')}"
        )

    def stop(self) -> None:
        """Stop all services (SIGTERM to each process group, SIGKILL after 15 s)."""
        self._stopping = True
        running = [s for s in self.services if s.process and s.process.poll() is None]
        for service in running:
            _signal_group(service, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for service in running:
            assert service.process is not None
            try:
                service.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(service, signal.SIGKILL)
                service.process.wait()


def pump_log(source: IO[bytes], log: IO[bytes], service: str) -> None:
    """Copy a process's output to its log file line by line until it closes; a line
    that is not a JSON object becomes one (``level`` WARNING, ``logger`` "output": a
    library printing on its own, a traceback)."""
    with source, log:
        for raw in source:
            if raw.strip():
                log.write(as_json_line(raw, service))
                log.flush()


def as_json_line(raw: bytes, service: str) -> bytes:
    text = raw.decode("utf-8", "replace").rstrip("\r\n")
    if text.startswith("{"):
        with contextlib.suppress(ValueError):
            if isinstance(json.loads(text), dict):
                return text.encode() + b"\n"
    line = {
        "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "level": "WARNING",
        "service": service.split("-")[0],
        "logger": "output",
        "msg": text,
    }
    return json.dumps(line, ensure_ascii=False).encode() + b"\n"


def rasa_store_env(env: Mapping[str, str]) -> dict[str, str]:
    """Where Rasa keeps trackers and locks (``bot/endpoints.yml``): the stack's Redis,
    under the gateway's key prefix made alphanumeric (Rasa ignores any other), so tests
    and deployments sharing one Redis keep their conversations apart."""
    parsed = urlparse(env.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    prefix = re.sub(r"[^A-Za-z0-9]", "", env.get("REDIS_KEY_PREFIX", "gw:")) + "rasa"
    return {
        "RASA_REDIS_HOST": parsed.hostname or "127.0.0.1",
        "RASA_REDIS_PORT": str(parsed.port or 6379),
        "RASA_REDIS_DB": (parsed.path or "/0").lstrip("/") or "0",
        "RASA_REDIS_KEY_PREFIX": prefix,
        "RASA_TRACKER_TTL_SECONDS": env.get("RASA_TRACKER_TTL_SECONDS", str(7 * 24 * 3600)),
    }


def event_broker_env(env: Mapping[str, str]) -> dict[str, str]:
    """Rasa's event broker (``bot/endpoints.yml``) and the gateways' consumer of it
    (``gateway/transcripts/broker.py``) read the same variables: the local RabbitMQ
    unless set, and an exchange and queue named after the stack's key prefix, so
    stacks sharing one RabbitMQ never see each other's events."""
    prefix = re.sub(r"[^A-Za-z0-9]", "", env.get("REDIS_KEY_PREFIX", "gw:"))
    return {
        "RABBITMQ_HOST": "127.0.0.1",
        "RABBITMQ_PORT": "5672",
        "RABBITMQ_USERNAME": "guest",
        "RABBITMQ_PASSWORD": "guest",
        "RASA_EVENTS_EXCHANGE": f"{prefix}-rasa-events",
        "RASA_EVENTS_QUEUE": f"{prefix}-rasa-events-transcripts",
    }


def ensure_rabbitmq(env: Mapping[str, str]) -> None:
    """Refuse to start without RabbitMQ: Rasa would retry for minutes and then fail,
    and transcripts would have no NLU. We do not start one ourselves (a broker that
    vanishes with `make run` would drop queued events); the message says what to do."""
    import socket

    broker = event_broker_env(env)
    host = env.get("RABBITMQ_HOST", broker["RABBITMQ_HOST"])
    port = int(env.get("RABBITMQ_PORT", broker["RABBITMQ_PORT"]))
    try:
        with socket.create_connection((host, port), timeout=2):
            return
    except OSError:
        pass
    raise StackError(
        f"RabbitMQ does not answer at {host}:{port} (Rasa's event broker; transcripts "
        "get each turn's intent from it). Install and start it: Debian/Ubuntu "
        "`sudo apt-get install rabbitmq-server` (it starts as a service; "
        "`sudo service rabbitmq-server start` if not), macOS `brew install rabbitmq && "
        "brew services start rabbitmq`; or point RABBITMQ_HOST/RABBITMQ_PORT "
        "(RABBITMQ_USERNAME/RABBITMQ_PASSWORD) at a running one."
    )


def _signal_group(service: Service, sig: signal.Signals) -> None:
    assert service.process is not None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(service.process.pid, sig)


def _answers(url: str) -> bool:
    try:
        with urlopen(url, timeout=2) as response:  # noqa: S310 (our own localhost URL)
            return bool(200 <= response.status < 300)
    except (URLError, OSError):
        return False


def ensure_redis(redis_url: str) -> subprocess.Popen[bytes] | None:
    """Make sure Redis answers at `redis_url`; start a local `redis-server` if it does
    not and the URL is on this machine. Returns the process started, if any."""
    import socket

    parsed = urlparse(redis_url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 6379
    try:
        with socket.create_connection((host, port), timeout=1):
            return None
    except OSError:
        pass
    if host not in {"127.0.0.1", "localhost", "::1"}:
        raise StackError(f"Redis does not answer at {redis_url}")
    server = shutil.which("redis-server")
    if server is None:
        raise StackError(
            f"Redis does not answer at {redis_url} and redis-server is not installed: "
            "install it (Debian/Ubuntu: apt-get install redis-server; macOS: brew install "
            "redis) or point REDIS_URL at a running Redis."
        )
    print(f"[run] starting a local redis-server on port {port}", file=sys.stderr)
    process = subprocess.Popen(  # noqa: S603
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    for _ in range(50):
        try:
            with socket.create_connection((host, port), timeout=1):
                return process
        except OSError:
            time.sleep(0.1)
    raise StackError("redis-server started but does not answer")


def run_foreground() -> int:
    from scripts.train import ensure_trained

    started = time.monotonic()
    try:
        ensure_rabbitmq(os.environ)
    except StackError as exc:
        print(f"[run] {exc}", file=sys.stderr)
        return 1
    redis = ensure_redis(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    stack = Stack(ensure_trained())
    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        stack.prepare_database(int(os.environ.get("SEED_CUSTOMERS", 20)))
        stack.start()
        extra = "".join(
            f"  chat widget ({name})  {url}/\n"
            for name, url in stack.urls.items()
            if name.startswith("gateway-") or name == "balancer"
        )
        print(
            f"\nBanking assistant ready in {time.monotonic() - started:.1f} s:\n"
            f"  chat widget      {stack.urls['gateway']}/\n{extra}"
            f"  staff console    {stack.urls['gateway']}/console\n"
            f"  core_banking API {stack.urls['core_banking']}/docs\n"
            f"  Rasa server      {stack.urls['rasa']}/\n"
            f"  action server    {stack.urls['actions']}/health\n"
            f"  logs             {LOG_DIR}/\n"
            "Log in as demo001 / demo-password (console: agent1 / staff-password). "
            "Ctrl-C stops everything.",
            flush=True,
        )
        while not stopping:
            for line in stack.supervise():  # a service that died is started again
                print(line, file=sys.stderr, flush=True)
            time.sleep(0.5)
        return 0
    except (StackError, subprocess.CalledProcessError) as exc:
        print(f"[run] {exc}", file=sys.stderr)
        return 1
    finally:
        print("[run] stopping…", file=sys.stderr)
        stack.stop()
        if redis is not None:
            redis.terminate()


if __name__ == "__main__":
    if sys.argv[1:] != ["run"]:
        sys.exit(__doc__)
    sys.exit(run_foreground())
