"""Transfer throughput of core_banking's HTTP API beside pgbench on the same PostgreSQL.

    PYTHONPATH=. .venv/bin/python bench/ledger.py [--clients 1,4,16] [--seconds 5] [--workers N]

Creates two scratch databases on the server (dropped afterwards): one migrated and seeded
for a core_banking process started here on a free loopback port, one initialised by
`pgbench -i`. For each client count it runs POST /v1/transfers (1 minor unit from a random
one of --customers demo customers to a random demo account, fresh Idempotency-Key each)
for --seconds, then pgbench's TPC-B-like script with as many clients, and prints
transfers/s, p50/p95 latency and the ratio.
Server CPU milliseconds per request (its processes' user + system time over the load,
from /proc) are printed for the API and the ceiling: unlike transfers/s they hardly
depend on what else loads the machine.
Then the same load against bench/ledger_ceiling.py: pgbench's own TPC-B transaction
behind one bare FastAPI endpoint on the pgbench database, the most a Python HTTP API can
reach per transaction of that size here (its ratio to pgbench bounds the target).
Only 127.0.0.1 is contacted; every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import psycopg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwt
from psycopg import sql

from core_banking.models.account import NUMBER_CONTEXT
from core_banking.models.encrypted import cipher_for
from core_banking.settings import Settings
from scripts.ports import free_port

REPO = Path(__file__).resolve().parents[1]
ISSUER, AUDIENCE = "bench", "bench-api"


def admin_execute(admin_url: str, statement: sql.Composed) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(statement)


def create_database(admin_url: str, name: str) -> None:
    admin_execute(admin_url, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(admin_url: str, name: str) -> None:
    statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    admin_execute(admin_url, statement)


def server_settings(database_url: str, public_key: Path) -> dict[str, str]:
    """The environment core_banking is measured with (bench/ledger.py's server and
    bench/transfer_cpu.py's app)."""
    return {
        "APP_ENV": "test",
        "DATABASE_URL": database_url,
        "JWT_PUBLIC_KEY_FILE": str(public_key),
        "JWT_ISSUER": ISSUER,
        "JWT_AUDIENCE": AUDIENCE,
        # Measure the ledger path, not the risk hold. The velocity rule counts a
        # customer's transfers in its window up to its maximum (5 by default): with the
        # maximum out of reach, a 1-second window keeps that count to the ~25 transfers
        # a second each bench customer makes, not every transfer of the run (the
        # default 600 s would read them all).
        "DAILY_TRANSFER_LIMIT_MINOR": str(10**12),
        "RISK_VELOCITY_MAX_TRANSFERS": str(10**9),
        "RISK_VELOCITY_WINDOW_SECONDS": "1",
    }


def seeded_accounts(env: dict[str, Any], customers: int) -> list[tuple[str, str, str]]:
    """Migrate and seed env's DATABASE_URL: (customer id, checking account id, its IBAN)
    per demo customer. The IBANs are encrypted at rest: decrypted with the server's
    keys (this process reads the same environment's defaults)."""
    run([sys.executable, "-m", "core_banking.migrate"], env=env)
    run([sys.executable, "-m", "core_banking.seed", "--customers", str(customers)], env=env)
    with psycopg.connect(env["DATABASE_URL"]) as conn:
        rows = conn.execute(
            "SELECT customer_id, id, number FROM accounts WHERE type = 'checking'"
        ).fetchall()
    cipher = cipher_for(Settings())
    return [
        (str(customer), str(account), cipher.decrypt(str(number), context=NUMBER_CONTEXT))
        for customer, account, number in rows
    ]


def make_keys(directory: Path) -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (directory / "public.pem").write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def token(private_pem: bytes, subject: str) -> str:
    now = int(time.time())
    claims = {
        "sub": subject,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 3600,
        "jti": str(uuid.uuid4()),
        "roles": ["customer"],
    }
    return str(jwt.encode(claims, private_pem.decode(), algorithm="RS256"))


def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    # Fixed argument lists built here, no shell: the S603/S607 warnings do not apply.
    return subprocess.run(command, capture_output=True, text=True, check=True, **kwargs)  # noqa: S603


Request = tuple[str, dict[str, Any], dict[str, str]]  # path, JSON body, headers


async def load(
    base_url: str,
    next_request: Callable[[secrets.SystemRandom, int], Request],
    clients: int,
    seconds: float,
) -> tuple[float, list[float]]:
    """`clients` concurrent loops POSTing `next_request(rng, n)` for `seconds`, one
    request in flight each; returns (201s per second, their latencies). aiohttp, not
    httpx, as the load generator: it shares the 2 cores with the server and PostgreSQL,
    and httpx spends several times aiohttp's CPU per request (gateway/chat/rasa_client.py)."""
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    async def client_loop(n: int) -> None:
        rng = secrets.SystemRandom()
        connector = aiohttp.TCPConnector(limit=1)
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(base_url, connector=connector, timeout=timeout) as http:
            while time.monotonic() < deadline:
                path, body, headers = next_request(rng, n)
                started = time.perf_counter()
                async with http.post(path, json=body, headers=headers) as response:
                    text = await response.text()
                if response.status == 201:
                    latencies.append(time.perf_counter() - started)
                elif response.status != 422:  # same-account picks are refused: fine
                    raise RuntimeError(f"{response.status} {text}")

    started = time.monotonic()
    await asyncio.gather(*(client_loop(n) for n in range(clients)))
    return len(latencies) / (time.monotonic() - started), latencies


def transfer_requests(
    callers: list[tuple[str, str]], numbers: list[str]
) -> Callable[[secrets.SystemRandom, int], Request]:
    """callers: (bearer token, source account id): 1 minor unit to a random account."""

    def next_request(rng: secrets.SystemRandom, n: int) -> Request:
        bearer, source = callers[(n + rng.randrange(len(callers))) % len(callers)]
        body = {
            "from_account_id": source,
            "to_account_number": rng.choice(numbers),
            "amount_minor": 1,
            "currency": "EUR",
            "reference": "bench",
        }
        headers = {"Authorization": f"Bearer {bearer}", "Idempotency-Key": str(uuid.uuid4())}
        return "/v1/transfers", body, headers

    return next_request


def tpcb_request(rng: secrets.SystemRandom, n: int) -> Request:
    """pgbench's random choices for one TPC-B transaction at scale 1."""
    body = {
        "aid": rng.randint(1, 100_000),
        "tid": rng.randint(1, 10),
        "bid": 1,
        "delta": rng.randint(-5000, 5000),
    }
    return "/tpcb", body, {}


def start_server(command: list[str], env: dict[str, Any], base_url: str) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(command, env=env)  # noqa: S603 - fixed argument list
    for _ in range(100):
        try:
            if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.terminate()
    raise RuntimeError(f"{command} did not become healthy")


def _processes() -> Iterator[tuple[Path, list[str]]]:
    """Every process's /proc directory and the fields of its `stat` after the command
    name (index 1: ppid, 11 and 12: utime and stime in clock ticks)."""
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            yield proc, (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue


def _seconds(fields: list[str]) -> float:
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of process `pid` and its children (uvicorn's workers),
    from /proc: what one request costs the server, whatever else loads the machine."""
    return sum(
        _seconds(fields)
        for proc, fields in _processes()
        if int(proc.name) == pid or int(fields[1]) == pid
    )


def database_cpu_seconds(database: str) -> float:
    """CPU time of the PostgreSQL backends serving `database` (their process title names
    it): what the requests cost the database server."""
    total = 0.0
    for proc, fields in _processes():
        try:
            title = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres: ") and f" {database} " in title:
            total += _seconds(fields)
    return total


def quantiles_ms(latencies: list[float]) -> tuple[float, float]:
    if len(latencies) < 2:
        return 0.0, 0.0
    return statistics.median(latencies) * 1000, statistics.quantiles(latencies, n=20)[-1] * 1000


def pgbench_tps(db_url: str, clients: int, seconds: int) -> float:
    jobs = str(min(clients, os.cpu_count() or 1))
    command = ["pgbench", "-n", "-c", str(clients), "-j", jobs, "-T", str(seconds), db_url]
    result = run(command, timeout=seconds + 60)
    match = re.search(r"tps = ([0-9.]+)", result.stdout)
    if not match:
        raise RuntimeError(result.stdout + result.stderr)
    return float(match.group(1))


def profile(pid: int, args: argparse.Namespace) -> subprocess.Popen[bytes]:
    """py-spy (requirements-dev.txt) sampling the server and its workers for the load;
    only samples holding the GIL (`--gil`), so that time spent runnable but waiting for
    a core, which the loaded machine gives to PostgreSQL, is not counted as work."""
    spy = str(Path(sys.executable).parent / "py-spy")
    command = [spy, "record", "--pid", str(pid), "--subprocesses"]
    command += ["--rate", "250", "--duration", str(args.seconds), "--format", "raw"]
    command += ["--output", args.profile, "--nonblocking", "--gil"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL)  # noqa: S603


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument(
        "--customers",
        type=int,
        default=500,
        # The ceiling's TPC-B transaction picks one of pgbench's 100,000 accounts; among
        # 16 customers, concurrent transfers keep meeting on the same rows (locks, and
        # the same two heap pages), which costs PostgreSQL ~1.5 ms of CPU per transfer
        # in most runs, against ~0.7 one at a time (core_banking/README.md, "Contention in
        # the bench"). --customers 16 measures that hot spot.
        help="demo customers seeded; each request acts for a random one (default 500)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        # The same setting and default as `python -m core_banking` (one per core).
        default=Settings().core_banking_workers,
        help="uvicorn worker processes (each has its own pool); default CORE_BANKING_WORKERS",
    )
    parser.add_argument(
        "--profile",
        metavar="PATH",
        help="record the server with py-spy during the transfer load (collapsed stacks)",
    )
    args = parser.parse_args()
    levels = [int(c) for c in args.clients.split(",")]
    base = args.admin_url.rsplit("/", 1)[0]
    app_db, pgb_db = (f"bench_{kind}_{secrets.token_hex(4)}" for kind in ("ledger", "pgbench"))
    for name in (app_db, pgb_db):
        create_database(args.admin_url, name)
    server: subprocess.Popen[bytes] | None = None
    servers: list[subprocess.Popen[bytes]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            private_pem = make_keys(Path(tmp))
            env: dict[str, Any] = {
                **os.environ,
                "PYTHONPATH": str(REPO),
                **server_settings(f"{base}/{app_db}", Path(tmp) / "public.pem"),
            }
            python = sys.executable
            accounts = seeded_accounts(env, args.customers)
            run(["pgbench", "-i", "-q", "-s", "1", f"{base}/{pgb_db}"])
            callers = [(token(private_pem, customer), account) for customer, account, _ in accounts]
            numbers = [number for _, _, number in accounts]
            port = free_port()
            base_url = f"http://127.0.0.1:{port}"
            server = start_server(
                [
                    python,
                    "-m",
                    "uvicorn",
                    "core_banking.app:app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                    "--workers",
                    str(args.workers),
                ],
                env,
                base_url,
            )
            ceiling_url = f"http://127.0.0.1:{free_port()}"
            ceiling_script = str(REPO / "bench" / "ledger_ceiling.py")
            ceiling = start_server(
                [python, ceiling_script, ceiling_url.rsplit(":", 1)[1], str(max(levels))],
                {**env, "DATABASE_URL": f"{base}/{pgb_db}"},
                ceiling_url,
            )
            servers.append(ceiling)

            print(
                f"{'clients':>7} {'transfers/s':>12} {'p50 ms':>8} {'p95 ms':>8} "
                f"{'pgbench tps':>12} {'api/pgbench':>12} {'ceiling tps':>12} "
                f"{'ceiling/pgb':>12} {'api/ceiling':>12} {'cpu ms/tx':>10} {'ceil cpu ms':>12} "
                f"{'db cpu ms/tx':>12} {'ceil db ms':>10}"
            )
            transfers = transfer_requests(callers, numbers)
            for clients in levels:
                profiler = profile(server.pid, args) if args.profile else None
                cpu_before, db_before = cpu_seconds(server.pid), database_cpu_seconds(app_db)
                tps, latencies = asyncio.run(load(base_url, transfers, clients, args.seconds))
                cpu_ms = (cpu_seconds(server.pid) - cpu_before) * 1000 / max(1, len(latencies))
                db_ms = (database_cpu_seconds(app_db) - db_before) * 1000 / max(1, len(latencies))
                if profiler is not None:
                    profiler.wait(timeout=60)
                p50, p95 = quantiles_ms(latencies)
                reference = pgbench_tps(f"{base}/{pgb_db}", clients, args.seconds)
                cpu_before, db_before = cpu_seconds(ceiling.pid), database_cpu_seconds(pgb_db)
                bound, done = asyncio.run(load(ceiling_url, tpcb_request, clients, args.seconds))
                bound_cpu_ms = (cpu_seconds(ceiling.pid) - cpu_before) * 1000 / max(1, len(done))
                bound_db_ms = (database_cpu_seconds(pgb_db) - db_before) * 1000 / max(1, len(done))
                print(
                    f"{clients:>7} {tps:>12.1f} {p50:>8.1f} {p95:>8.1f} "
                    f"{reference:>12.1f} {tps / reference:>12.3f} {bound:>12.1f} "
                    f"{bound / reference:>12.3f} {tps / bound:>12.3f} {cpu_ms:>10.2f} "
                    f"{bound_cpu_ms:>12.2f} {db_ms:>12.2f} {bound_db_ms:>10.2f}"
                )
    finally:
        for running in [*servers, *([server] if server is not None else [])]:
            running.terminate()
            running.wait(timeout=10)
        for name in (app_db, pgb_db):
            drop_database(args.admin_url, name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
