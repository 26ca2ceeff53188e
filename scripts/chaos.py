"""Chaos run (issue 16): N conversations of 5 turns through HAProxy under a
`make run-scaled` stack while instances are SIGKILLed at random; then checks that
every acknowledged turn was answered exactly once, every transcript is complete
(a row per turn, each bot turn with its NLU from the event broker), and no money
moved twice.

    .venv/bin/python -m scripts.chaos --conversations 1000 --concurrency 24

Each conversation: greet, balance, "send K euros to my savings account" (K unique per
customer, so a transfer names its conversation), "yes", balance. A killer SIGKILLs one
random gateway, Rasa or action server every ``--kill-every`` seconds, only while the
other instance of that tier answers (so the service as a whole stays up); the stack's
supervisor starts the victim again. Clients behave like the widget: a dropped socket
is resumed (``hello`` with ``session_id`` and ``last_seq``) and the unanswered turn
is sent again with the same ``client_msg_id`` (the gateway acks it again and never
runs it twice). Prints a JSON report; exits 1 if any check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import psycopg
from redis.asyncio import Redis

from gateway.transcripts.encrypted import EncryptedJSON
from scripts.chaos_client import Conversation, Tokens, converse
from scripts.dev_keys import ensure_key_pair
from scripts.ports import free_port
from scripts.stack import Stack
from scripts.train import model_path

ADMIN_DSN = os.environ.get("CHAOS_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/test")
TIERS = ("gateway", "rasa", "actions")
DEMO_PASSWORD = "demo-password"  # core_banking.seed's customers
SETTLE_SECONDS = 30.0


async def killer(stack: Stack, every: float, stop: asyncio.Event, kills: Counter[str]) -> None:
    rng = random.Random(16)  # noqa: S311 (chaos, not crypto)
    async with httpx.AsyncClient(timeout=2) as http:
        while not stop.is_set():
            await asyncio.sleep(every)
            tier = rng.choice(TIERS)
            pair = [s for s in stack.services if s.name.split("-")[0] == tier]
            victim, other = rng.sample(pair, 2)
            try:  # never both at once: the other one must answer
                if (await http.get(other.health_url)).status_code != 200:
                    continue
                if victim.process is None or victim.process.poll() is not None:
                    continue
            except httpx.HTTPError:
                continue
            os.killpg(victim.process.pid, signal.SIGKILL)
            kills[victim.name] += 1


def transcript_rows(database_url: str) -> tuple[dict[tuple[str, str], Any], Counter[str]]:
    """Turn rows (intent, failed) by (session, cmid), and Rasa user events per
    (session:cmid). Event data is encrypted at rest: read with the gateway's own column
    type and keys (the stack runs with this process's environment)."""
    data_column = EncryptedJSON("rasa_events.data")
    with psycopg.connect(database_url.replace("+psycopg", "")) as conn:
        turns = {
            (r[0], r[1]): {"intent": r[2], "failed": r[3]}
            for r in conn.execute(
                "SELECT session_id, client_msg_id, intent, failed FROM chat_turns"
            )
        }
        users: Counter[str] = Counter()
        for sid, stored in conn.execute(
            "SELECT session_id, data::text FROM rasa_events WHERE kind = 'user'"
        ):
            data = data_column.process_result_value(json.loads(stored), None)  # type: ignore[arg-type]
            users[f"{sid}:{(data or {}).get('client_msg_id')}"] += 1
    return turns, users


async def transfers_of(stack: Stack, customer: str, password: str) -> list[int]:
    """Amounts (minor units) of the customer's completed transfers, from core_banking."""
    async with httpx.AsyncClient(base_url=stack.urls["core_banking"], timeout=30) as http:
        token = (
            await http.post(
                f"{stack.urls['balancer']}/auth/token",
                data={"username": customer, "password": password},
            )
        ).json()["access_token"]
        amounts, cursor = [], None
        while True:
            params = {"limit": 100} | ({"cursor": cursor} if cursor else {})
            page = (
                await http.get(
                    "/v1/transfers", params=params, headers={"Authorization": f"Bearer {token}"}
                )
            ).json()
            amounts += [t["amount_minor"] for t in page["data"] if t["status"] == "completed"]
            cursor = page.get("next_cursor")
            if not cursor:
                return amounts


async def run_chaos(
    stack: Stack,
    *,
    conversations: int,
    customers: int,
    concurrency: int,
    kill_every: float,
    password: str = DEMO_PASSWORD,
) -> dict[str, Any]:
    """Runs the conversations against a started scaled stack; returns the report."""
    base = stack.urls["balancer"]
    chats = [
        Conversation(n, f"demo{n % customers + 1:03d}", n // customers + 1)
        for n in range(conversations)
    ]
    supervisor = stack.supervise_in_background()
    stop, kills = asyncio.Event(), Counter[str]()
    chaos = asyncio.create_task(killer(stack, kill_every, stop, kills))
    gate = asyncio.Semaphore(concurrency)
    tokens = Tokens(base, password)
    started = time.monotonic()

    async def one(chat: Conversation) -> None:
        async with gate:
            await converse(base, chat, tokens)

    try:
        await asyncio.gather(*(one(c) for c in chats))
    finally:
        stop.set()
        chaos.cancel()
        elapsed = time.monotonic() - started
    report = await verify(stack, chats, customers, password)
    supervisor.set()
    report |= {
        "conversations": conversations,
        "turns_sent": sum(len(c.turns) for c in chats),
        "seconds": round(elapsed, 1),
        "turns_per_second": round(sum(len(c.turns) for c in chats) / elapsed, 2),
        "kills": dict(sorted(kills.items())),
        "reconnects": sum(c.reconnects for c in chats),
    }
    return report


async def verify(
    stack: Stack, chats: list[Conversation], customers: int, password: str
) -> dict[str, Any]:
    acked = [(c, t) for c in chats for t in c.turns if t.acked]
    unanswered = [t.cmid for _, t in acked if not t.replies]
    # A turn run twice would show its reply twice (new seqs, same texts).
    doubled = [
        t.cmid for _, t in acked if len(t.replies) != len(set(t.replies.values())) and t.replies
    ]
    # The transcripts are written in the background, from the gateways' Redis stream and
    # Rasa's broker queue; an entry a killed gateway held is re-claimed only after
    # RECLAIM_IDLE_MS (30 s). Read the rows once both pipelines are empty.
    database = stack.env["TRANSCRIPT_DATABASE_URL"]
    await drained(stack.env)
    rows, users, settle = await settled(database, [(c.session_id, t.cmid) for c, t in acked])
    missing_rows = [t.cmid for c, t in acked if (c.session_id, t.cmid) not in rows]
    # What a turn without NLU tells: no user event at all (lost between Rasa and the
    # consumer, or a turn the gateway gave up on: `failed`), or one the link missed.
    missing_nlu = [
        {
            "turn": f"{c.session_id}:{t.cmid}",
            "failed": rows[(c.session_id, t.cmid)]["failed"],
            "user_events": users[f"{c.session_id}:{t.cmid}"],
        }
        for c, t in acked
        if (c.session_id, t.cmid) in rows and rows[(c.session_id, t.cmid)]["intent"] is None
    ]
    rasa_twice = [k for k, n in users.items() if n > 1]
    moved: dict[str, Counter[int]] = {}
    for customer in sorted({c.customer for c in chats}):
        moved[customer] = Counter(await transfers_of(stack, customer, password))
    duplicated_money = sum(n - 1 for amounts in moved.values() for n in amounts.values() if n > 1)
    confirmed = [
        c
        for c in chats
        if len(c.turns) >= 4
        and c.turns[3].replies
        and any("EUR" in text for text in c.turns[3].replies.values())
    ]
    confirmed_without_transfer = [
        c.number for c in confirmed if moved[c.customer][c.amount * 100] == 0
    ]
    return {
        "turns_acknowledged": len(acked),
        "turns_answered": len(acked) - len(unanswered),
        "unanswered": unanswered[:20],
        "answered_twice": doubled[:20],
        "transcript_rows_missing": missing_rows[:20],
        "transcript_settle_seconds": settle,
        "transcript_turns_without_nlu": len(missing_nlu),
        "turns_without_nlu": missing_nlu[:20],
        "turns_rasa_processed_twice": len(rasa_twice),
        "transfers": sum(sum(a.values()) for a in moved.values()),
        "duplicated_money_moves": duplicated_money,
        "confirmed_without_transfer": confirmed_without_transfer[:20],
        "conversations_failed": [c.failure for c in chats if c.failure][:20],
    }


def failed(report: dict[str, Any]) -> list[str]:
    """The checks that failed (empty: all passed)."""
    keys = ("unanswered", "answered_twice", "transcript_rows_missing")
    bad = [k for k in keys if report[k]]
    if report["transcript_turns_without_nlu"]:
        bad.append("transcript_turns_without_nlu")
    if report["duplicated_money_moves"]:
        bad.append("duplicated_money_moves")
    if report["conversations_failed"]:
        bad.append("conversations_failed")
    return bad


@contextmanager
def scaled_stack(customers: int, workdir: Path, keep_database: bool = False) -> Iterator[Stack]:
    """A `make run-scaled` stack on free ports with a database of its own (dropped at
    the end unless `keep_database`: its name is then in `workdir`/database)."""
    name = f"chaos_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    database = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    private, public = workdir / "jwt-private.pem", workdir / "jwt-public.pem"
    ensure_key_pair(private, public)
    env = {
        **os.environ,
        "APP_ENV": "test",
        "DATABASE_URL": database,
        "TRANSCRIPT_DATABASE_URL": database,
        "REDIS_KEY_PREFIX": f"chaos-{uuid.uuid4().hex[:8]}:",
        "JWT_PRIVATE_KEY_FILE": str(private),
        "JWT_PUBLIC_KEY_FILE": str(public),
        "STACK_REPLICAS": "2",
        # Many transfers per customer in minutes: not a risk signal here.
        "RISK_VELOCITY_MAX_TRANSFERS": "100000",
        "RATE_USER_MESSAGES": "1000",
        **{
            k: str(free_port())
            for k in (
                "GATEWAY_PORT",
                "CORE_BANKING_PORT",
                "RASA_PORT",
                "ACTION_SERVER_PORT",
                "LB_PORT",
                "RASA_LB_PORT",
                "ACTIONS_LB_PORT",
                "LB_MONITOR_PORT",
            )
        },
    }
    stack = Stack(model_path(), env=env, log_dir=workdir / "logs")
    try:
        stack.prepare_database(seed_customers=customers)
        stack.start(timeout=600)
        yield stack
    finally:
        stack.stop()
        asyncio.run(delete_broker_objects(stack.env))
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            if keep_database:
                (workdir / "database").write_text(name + "\n")
            else:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def drained(env: dict[str, str], timeout: float = 180.0) -> None:
    """Waits until the transcript stream holds no entry (its pending ones included: the
    writer deletes an entry once it is in SQL) and the events queue no message waiting
    for delivery (RabbitMQ does not count the ones a consumer holds unacked: see
    ``settled``); raises TimeoutError after `timeout` seconds."""
    redis = Redis.from_url(env.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    stream = f"{env['REDIS_KEY_PREFIX']}transcripts"
    connection = await aio_pika.connect(host=env["RABBITMQ_HOST"], port=int(env["RABBITMQ_PORT"]))
    deadline = time.monotonic() + timeout
    try:
        async with connection:
            channel = await connection.channel()
            while time.monotonic() < deadline:
                queue = await channel.declare_queue(env["RASA_EVENTS_QUEUE"], passive=True)
                waiting = await redis.xlen(stream) + (queue.declaration_result.message_count or 0)
                if waiting == 0:
                    return
                await asyncio.sleep(2.0)
    finally:
        await redis.aclose()
    raise TimeoutError(f"transcripts still being written after {timeout:.0f} s")


async def settled(
    database_url: str, turns: list[tuple[str, str]], timeout: float = SETTLE_SECONDS
) -> tuple[dict[tuple[str, str], Any], Counter[str], float]:
    """The transcript rows once every one of ``turns`` has its row and NLU, or as they
    are after ``timeout`` seconds; and how long that took.

    Why a wait after ``drained``: RabbitMQ counts only the messages not yet delivered,
    so an empty queue still leaves the batch a consumer holds unacked while it writes
    (the last turns' events, on a loaded machine, for a second or more). A turn whose
    NLU never comes is still missing after ``timeout`` and fails the run."""
    started = time.monotonic()
    while True:
        rows, users = await asyncio.to_thread(transcript_rows, database_url)
        incomplete = sum(1 for t in turns if t not in rows or rows[t]["intent"] is None)
        waited = time.monotonic() - started
        if not incomplete or waited >= timeout:
            return rows, users, round(waited, 1)
        print(f"[chaos] {incomplete} turns still without their transcript row or NLU")
        await asyncio.sleep(1.0)


async def delete_broker_objects(env: dict[str, str]) -> None:
    """The stack's event queue and exchange (named after its key prefix)."""
    connection = await aio_pika.connect(host=env["RABBITMQ_HOST"], port=int(env["RABBITMQ_PORT"]))
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(env["RASA_EVENTS_QUEUE"])
        await channel.exchange_delete(env["RASA_EVENTS_EXCHANGE"])


@contextmanager
def _workdir(keep: Path | None) -> Iterator[Path]:
    if keep is None:
        with tempfile.TemporaryDirectory(prefix="chaos-") as tmp:
            yield Path(tmp)
    else:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--customers", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=24)
    parser.add_argument("--kill-every", type=float, default=20.0, help="seconds between kills")
    parser.add_argument(
        "--keep",
        metavar="DIR",
        type=Path,
        help="write the stack's logs and keys into DIR and keep them and the database "
        "(its name in DIR/database; default: a temporary folder, both deleted): the failed "
        "turns' client_msg_ids can then be looked up",
    )
    args = parser.parse_args()
    with (
        _workdir(args.keep) as workdir,
        scaled_stack(args.customers, workdir, keep_database=args.keep is not None) as stack,
    ):
        report = asyncio.run(
            run_chaos(
                stack,
                conversations=args.conversations,
                customers=args.customers,
                concurrency=args.concurrency,
                kill_every=args.kill_every,
            )
        )
    report["failed_checks"] = failed(report)
    print(json.dumps(report, indent=2))
    return 1 if report["failed_checks"] else 0


if __name__ == "__main__":
    sys.exit(main())
