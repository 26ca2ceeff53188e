"""Many clients moving money at once through a real HTTP server on PostgreSQL.

uvicorn runs in a background thread (its own event loop, its own connection pool); the
test drives it over real sockets with 16 concurrent workers doing random transfers
between a few seeded accounts, including replayed and simultaneously doubled
Idempotency-Keys and transfers that must fail for lack of funds. The third test holds
big transfers for step-up and races creating, confirming, cancelling and expiring holds
(plus the server's own sweeper) against each other and against plain transfers.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from core_banking.app import create_app
from core_banking.models import Account, Hold, Transfer
from core_banking.settings import Settings
from core_banking.step_up import methods as step_up_methods
from core_banking.verify_ledger import verify
from scripts.ports import free_port
from tests.core_banking.helpers import PROBLEM, Customer, SessionFactory, login
from tests.totp import code_at

pytestmark = pytest.mark.parametrize("settings", ["postgresql"], indirect=True)
WORKERS = 16
OPS_PER_WORKER = 6
CUSTOMERS = 4
NO_RISK = 10**12
UNAVAILABLE_RETRIES = 100  # these tests are about the ledger, not the risk rules


@dataclass
class Ledger:
    """What the clients saw."""

    key_to_ids: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    ok_ids: set[str] = field(default_factory=set)
    statuses: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    insufficient: int = 0
    replays: int = 0
    unavailable: int = 0  # 503s retried by the client (connection-kill test)


NO_RISK_SETTINGS = {
    "daily_transfer_limit_minor": NO_RISK,
    "risk_new_payee_threshold_minor": NO_RISK,
    "risk_large_amount_minor": NO_RISK,
    "risk_velocity_max_transfers": 10**6,
}


@pytest.fixture
def server(settings: Settings, engine: Any) -> Iterator[str]:
    yield from _serve(settings.model_copy(update=NO_RISK_SETTINGS))


@pytest.fixture
def holding_server(settings: Settings, engine: Any) -> Iterator[str]:
    held = {
        **NO_RISK_SETTINGS,
        # "velocity" fires for every transfer to someone else: all of those are held
        "risk_velocity_max_transfers": 0,
        "hold_sweep_interval_seconds": 0.05,  # the sweeper races the clients too
    }
    yield from _serve(settings.model_copy(update=held))


def _serve(settings: Settings) -> Iterator[str]:
    app = create_app(settings)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uv.should_exit = True
        thread.join(timeout=10)


async def test_concurrent_transfers_conserve_money(
    server: str,
    run_seed: Callable[..., Any],
    session_factory: SessionFactory,
    sign: Callable[..., str],
) -> None:
    workload = await _prepare(run_seed, session_factory, sign)
    seen = await _drive(server, workload, retry_unavailable=False)
    await _check_ledger(session_factory, seen)


async def test_transfers_survive_killed_database_connections(
    server: str,
    postgres_url: str,
    run_seed: Callable[..., Any],
    session_factory: SessionFactory,
    sign: Callable[..., str],
    engine: AsyncEngine,
) -> None:
    """The same workload while another thread keeps terminating the server's PostgreSQL
    backends (pg_terminate_backend, every ~75 ms, a bounded number of rounds).

    The service must retry (the idempotency record commits with the entries, so a retry
    after an ambiguous commit replays instead of moving money twice) or answer 503
    problem+json; never a 500. Clients retry a 503 with the same key, as they should.
    """
    # The test's own queries run before and after the chaos: only the server is under test.
    workload = await _prepare(run_seed, session_factory, sign)
    killer = Killer(postgres_url)
    killer.start()
    try:
        seen = await _drive(server, workload, retry_unavailable=True)
    finally:
        killer.stop()
    assert killer.terminated > 0, "the killer never hit a backend"
    # The killer also ended this test's own pooled connection, idle for less than the
    # idle-ping interval (core_banking.db.ping_when_idle): check with fresh ones.
    await engine.dispose()
    await _check_ledger(session_factory, seen)


class Killer(threading.Thread):
    """Terminates every client backend of the test database but its own, repeatedly."""

    ROUNDS = 60  # bounded: at most ROUNDS * INTERVAL seconds of chaos
    INTERVAL = 0.075

    def __init__(self, database_url: str) -> None:
        super().__init__(daemon=True)
        self.database_url = database_url
        self.database = database_url.rsplit("/", 1)[1]
        self.terminated = 0
        self._done = threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            for _ in range(self.ROUNDS):
                rows = conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = %s AND pid <> pg_backend_pid()"
                    " AND backend_type = 'client backend'",
                    (self.database,),
                ).fetchall()
                self.terminated += sum(1 for (ok,) in rows if ok)
                if self._done.wait(self.INTERVAL):
                    return

    def stop(self) -> None:
        self._done.set()
        self.join(timeout=10)


@dataclass
class Workload:
    people: list[Customer]
    accounts_of: dict[str, list[tuple[str, str]]]
    numbers: list[str]


async def _prepare(
    run_seed: Callable[..., Any], session_factory: SessionFactory, sign: Callable[..., str]
) -> Workload:
    await run_seed(CUSTOMERS)
    people = [await login(session_factory, sign, f"demo{n:03d}") for n in range(1, 5)]
    async with session_factory() as s:
        owned = (
            await s.execute(
                select(Account.customer_id, Account.id, Account.number).where(
                    Account.customer_id.is_not(None)
                )
            )
        ).all()
    accounts_of: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for customer_id, account_id, number in owned:
        accounts_of[str(customer_id)].append((account_id, number))
    numbers = [number for _, _, number in owned]
    return Workload(people, dict(accounts_of), numbers)


async def _drive(server: str, workload: Workload, *, retry_unavailable: bool) -> Ledger:
    people, accounts_of, numbers = workload.people, workload.accounts_of, workload.numbers
    seen = Ledger()
    sent: list[tuple[Customer, str, dict[str, Any]]] = []  # for replays

    async def post(
        client: httpx.AsyncClient, who: Customer, key: str, body: dict[str, Any]
    ) -> httpx.Response:
        for _ in range(UNAVAILABLE_RETRIES):
            response = await client.post(
                "/v1/transfers", json=body, headers={**who.headers, "Idempotency-Key": key}
            )
            if response.status_code != 503 or not retry_unavailable:
                return response
            assert response.headers["content-type"] == PROBLEM, response.text
            assert response.json()["type"].endswith("/unavailable"), response.text
            seen.unavailable += 1
            await asyncio.sleep(0.05)
        raise AssertionError(f"still 503 after {UNAVAILABLE_RETRIES} tries")

    async def send(
        client: httpx.AsyncClient, who: Customer, key: str, body: dict[str, Any]
    ) -> None:
        response = await post(client, who, key, body)
        seen.statuses[response.status_code] += 1
        if response.status_code == 201:
            seen.key_to_ids[f"{who.id}/{key}"].add(response.json()["id"])
            seen.ok_ids.add(response.json()["id"])
        elif response.status_code == 422:
            assert response.json()["type"].endswith("insufficient-funds"), response.text
            seen.insufficient += 1
        else:
            raise AssertionError(f"{response.status_code} {response.text}")

    async def worker(seed: int) -> None:
        rng = random.Random(seed)
        async with httpx.AsyncClient(base_url=server, timeout=60) as client:
            for _ in range(OPS_PER_WORKER):
                if sent and rng.random() < 0.2:
                    who, key, body = rng.choice(sent)
                    seen.replays += 1
                    await send(client, who, key, body)
                    continue
                who = rng.choice(people)
                source_id, source_number = rng.choice(accounts_of[who.id])
                target = rng.choice([n for n in numbers if n != source_number])
                big = rng.random() < 0.4  # often more than a checking account holds
                body = {
                    "from_account_id": source_id,
                    "to_account_number": target,
                    "amount_minor": rng.randint(60_000, 250_000) if big else rng.randint(1, 5_000),
                    "currency": "EUR",
                    "reference": f"w{seed}",
                }
                key = str(uuid.uuid4())
                sent.append((who, key, body))
                if rng.random() < 0.15:  # the same request twice at the same moment
                    seen.replays += 1
                    await asyncio.gather(send(client, who, key, body), send(client, who, key, body))
                else:
                    await send(client, who, key, body)

    await asyncio.wait_for(asyncio.gather(*(worker(i) for i in range(WORKERS))), timeout=120)
    assert seen.statuses[201] > 0 and seen.insufficient > 0 and seen.replays > 0, seen.statuses
    return seen


async def _check_ledger(session_factory: SessionFactory, seen: Ledger) -> None:
    # Every key moved money at most once: all its successful answers name one transfer.
    assert all(len(ids) == 1 for ids in seen.key_to_ids.values())
    async with session_factory() as s:
        db_ids = set(await s.scalars(select(Transfer.id)))
        journals = await s.scalar(text("SELECT count(*) FROM journals WHERE kind <> 'deposit'"))
        records = await s.scalar(text("SELECT count(*) FROM idempotency_records"))
        audited = await s.scalar(
            text("SELECT count(DISTINCT resource_id) FROM audit_log WHERE action LIKE 'transfer.%'")
        )
        negative = await s.scalar(
            select(func.count()).where(Account.customer_id.is_not(None), Account.balance_minor < 0)
        )
        customer_total = await s.scalar(
            select(func.sum(Account.balance_minor)).where(Account.customer_id.is_not(None))
        )
        report = await verify(s)
    # Each 2xx transfer exists exactly once, and nothing else moved money.
    assert db_ids == seen.ok_ids
    assert journals == len(db_ids) == records == audited == len(seen.key_to_ids)
    assert negative == 0
    assert customer_total == CUSTOMERS * 600_000
    assert report.ok, report.problems


async def test_concurrent_holds_never_overdraw(
    holding_server: str,
    postgres_url: str,
    run_seed: Callable[..., Any],
    session_factory: SessionFactory,
    sign: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Workers create transfers (those to other customers are held), confirm held ones with TOTP codes
    of three time steps (so concurrent confirmations of one customer also meet the
    replay check), cancel them, and move holds' expiry into the past, all at once.
    Every answer a worker reads shows available_minor between 0 and the balance;
    afterwards each account's available is its balance less its active holds, each
    transfer's hold is in the state its status allows, and money is conserved."""
    clock = float(int(time.time()) // 30 * 30 + 15)
    monkeypatch.setattr(step_up_methods, "now", lambda: clock)  # the server's thread too
    workload = await _prepare(run_seed, session_factory, sign)
    held: list[tuple[Customer, str]] = []
    confirmed: set[str] = set()
    outcomes: dict[str, int] = defaultdict(int)

    async def check_accounts(client: httpx.AsyncClient, who: Customer) -> None:
        response = await client.get("/v1/accounts", headers=who.headers)
        assert response.status_code == 200, response.text
        for account in response.json()["data"]:
            assert 0 <= account["available_minor"] <= account["balance_minor"], account

    async def create(client: httpx.AsyncClient, rng: random.Random, who: Customer) -> None:
        (source_id, _), (_, own_other) = rng.sample(workload.accounts_of[who.id], 2)
        mine = {number for _, number in workload.accounts_of[who.id]}
        held_one = rng.random() < 0.6  # to someone else: held; own-account moves never are
        target = rng.choice([n for n in workload.numbers if n not in mine])
        body = {
            "from_account_id": source_id,
            "to_account_number": target if held_one else own_other,
            "amount_minor": rng.randint(50_000, 300_000),  # often more than is available
            "currency": "EUR",
        }
        headers = {**who.headers, "Idempotency-Key": str(uuid.uuid4())}
        response = await client.post("/v1/transfers", json=body, headers=headers)
        if response.status_code == 201:
            status = response.json()["status"]
            assert status == ("requires_confirmation" if held_one else "completed"), response.text
            if held_one:
                held.append((who, response.json()["id"]))
            outcomes[status] += 1
        else:
            assert response.status_code == 422, response.text
            assert response.json()["type"].endswith("insufficient-funds"), response.text
            outcomes["insufficient-funds"] += 1

    async def settle(client: httpx.AsyncClient, rng: random.Random) -> None:
        who, transfer_id = rng.choice(held)
        roll = rng.random()
        if roll < 0.15:  # time passes for this one: its hold expires (database clock)
            with psycopg.connect(postgres_url, autocommit=True) as conn:
                conn.execute(
                    "UPDATE holds SET expires_at = statement_timestamp() - interval '1 second'"
                    " WHERE id = (SELECT hold_id FROM transfers WHERE id = %s)",
                    (transfer_id,),
                )
            outcomes["expired"] += 1
            return
        if roll < 0.35:
            response = await client.post(f"/v1/transfers/{transfer_id}/cancel", headers=who.headers)
        else:
            code = code_at(clock + 30 * rng.choice((-1, 0, 1)))
            response = await client.post(
                f"/v1/transfers/{transfer_id}/confirm", json={"code": code}, headers=who.headers
            )
        if response.status_code == 200:  # (a repeated confirm returns it unchanged)
            outcomes[f"settled {response.json()['status']}"] += 1
            if response.json()["status"] == "completed":
                confirmed.add(transfer_id)
        else:  # replayed or already-used code, expired, or already completed / cancelled
            assert response.status_code in (409, 422), response.text
            kind = response.json()["type"].rsplit("/", 1)[1]
            assert kind in (
                "invalid-confirmation-code",
                "confirmation-expired",
                "invalid-state",
            ), response.text
            outcomes[kind] += 1

    async def worker(seed: int) -> None:
        rng = random.Random(seed)
        async with httpx.AsyncClient(base_url=holding_server, timeout=60) as client:
            for _ in range(OPS_PER_WORKER * 2):
                who = rng.choice(workload.people)
                if held and rng.random() < 0.45:
                    await settle(client, rng)
                else:
                    await create(client, rng, who)
                await check_accounts(client, who)

    await asyncio.wait_for(asyncio.gather(*(worker(i) for i in range(WORKERS))), timeout=120)
    assert outcomes["requires_confirmation"] > 0 and outcomes["settled completed"] > 0, outcomes
    assert outcomes["settled cancelled"] + outcomes["expired"] > 0, outcomes

    async with session_factory() as s:
        report = await verify(s)
        for account in await s.scalars(select(Account)):
            holds_sum = await s.scalar(
                text(
                    "SELECT COALESCE(SUM(amount_minor), 0) FROM holds WHERE account_id = :id"
                    " AND status = 'active' AND expires_at > statement_timestamp()"
                ),
                {"id": account.id},
            )
            assert account.available_minor == account.balance_minor - holds_sum, account.id
            assert account.available_minor >= 0 or account.customer_id is None
        customer_total = await s.scalar(
            select(func.sum(Account.balance_minor)).where(Account.customer_id.is_not(None))
        )
        completed = await s.scalar(
            select(func.count()).select_from(Transfer).where(Transfer.status == "completed")
        )
        journals = await s.scalar(text("SELECT count(*) FROM journals WHERE kind <> 'deposit'"))
        captured = await s.scalar(
            select(func.count()).select_from(Hold).where(Hold.status == "captured")
        )
    assert report.ok, report.problems  # includes: each hold in the state its transfer allows
    assert customer_total == CUSTOMERS * 600_000
    assert journals == completed  # a capture posted exactly one journal
    assert captured == len(confirmed)  # a hold is captured only by an accepted code
