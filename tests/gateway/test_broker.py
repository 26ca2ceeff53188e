"""The broker consumer (gateway/transcripts/broker.py) against a real RabbitMQ and
PostgreSQL: Rasa-shaped events published to the exchange become ``rasa_events`` rows
and the NLU of their turns exactly once, whatever happens to the consumer between
receiving a batch and acking it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aio_pika
import psycopg
import pytest
from redis.asyncio import Redis
from sqlalchemy import insert, select

from gateway.settings import Settings
from gateway.transcripts import broker
from gateway.transcripts.broker import BrokerConsumer, EventSink, declare
from gateway.transcripts.encrypted import open_text
from gateway.transcripts.model import ChatTurn
from gateway.transcripts.schema import TranscriptSchema
from gateway.transcripts.writer import make_engine
from tests.gateway.conftest import REDIS_URL
from tests.support import fresh_postgres_database

ROOT = Path(__file__).resolve().parents[2]
SEALED = "gAAAAAB-sealed-credential"


@pytest.fixture
def database() -> Iterator[str]:
    with fresh_postgres_database("broker") as url:
        yield url


@pytest.fixture
async def names() -> AsyncIterator[tuple[str, str]]:
    """An exchange and a queue of this test's own, bound, and deleted afterwards."""
    exchange, queue = f"test-ev-{uuid.uuid4().hex[:8]}", f"test-evq-{uuid.uuid4().hex[:8]}"
    connection = await aio_pika.connect(host="127.0.0.1", port=5672)
    async with connection:
        channel = await connection.channel()
        await declare(channel, exchange, queue)
        yield exchange, queue
        await channel.queue_delete(queue)
        await channel.exchange_delete(exchange)


def settings_for(database: str, names: tuple[str, str]) -> Settings:
    return Settings(
        transcript_database_url=database,
        rasa_events_exchange=names[0],
        rasa_events_queue=names[1],
        redis_key_prefix=f"brokertest-{uuid.uuid4().hex[:8]}:",
    )


def conversation(sender: str, turns: int, start: float = 1_700_000_000.0) -> list[dict[str, Any]]:
    """What Rasa's broker publishes for ``turns`` turns: user, action, bot, listen."""
    events: list[dict[str, Any]] = []
    for n in range(turns):
        at = start + n
        events += [
            {"event": "slot", "timestamp": at - 0.5, "name": "x", "value": "secret-slot"},
            {
                "event": "user",
                "timestamp": at,
                "text": f"pay [card •••• 1111] turn {n}",
                "metadata": {
                    "client_msg_id": f"m{n}",
                    "credential": SEALED,
                    "customer_id": "cust-hidden",
                },
                "parse_data": {
                    "intent": {"name": "transfer_money", "confidence": 0.5 + n / 100},
                    "entities": [{"entity": "amount", "value": "5", "start": 4, "end": 5}],
                },
            },
            {"event": "action", "timestamp": at + 0.1, "name": "transfer_form"},
            {
                "event": "bot",
                "timestamp": at + 0.2,
                "text": f"Its code is 7K2P-9XQD-M4TR-0ZAB-C8NE. ({n})",
            },
            {"event": "action", "timestamp": at + 0.3, "name": "action_listen"},
        ]
    return [{"sender_id": sender, **e} for e in events]


async def publish(exchange_name: str, events: Sequence[dict[str, Any] | bytes]) -> None:
    connection = await aio_pika.connect(host="127.0.0.1", port=5672)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(exchange_name, aio_pika.ExchangeType.FANOUT)
        for event in events:
            await exchange.publish(
                aio_pika.Message(
                    event if isinstance(event, bytes) else json.dumps(event).encode(),
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                "",
            )


async def waiting(queue_name: str) -> int:
    """Messages in the queue, ready or handed out and not yet acked."""
    connection = await aio_pika.connect(host="127.0.0.1", port=5672)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, durable=True, passive=True)
        return int(queue.declaration_result.message_count or 0)


def stored_raw(database: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(database.replace("+psycopg", "")) as conn:
        try:
            return list(
                conn.execute("SELECT event_id, session_id, kind, text, data FROM rasa_events")
            )
        except psycopg.errors.UndefinedTable:
            return []


def stored(database: str) -> list[tuple[Any, ...]]:
    """The stored events, their text and data decrypted (encrypted at rest, issue 19)."""
    return [
        (
            event_id,
            session_id,
            kind,
            open_text(text, "rasa_events.text") if text is not None else None,
            json.loads(open_text(data, "rasa_events.data")) if isinstance(data, str) else data,
        )
        for event_id, session_id, kind, text, data in stored_raw(database)
    ]


async def sink_for(settings: Settings) -> tuple[EventSink, TranscriptSchema, Redis]:
    redis = Redis.from_url(REDIS_URL)
    schema = TranscriptSchema(make_engine(settings.transcript_database_url))
    return EventSink(schema, redis=redis, erased_key="brokertest:erased"), schema, redis


async def test_events_become_rows_and_turn_nlu_once(database: str, names: tuple[str, str]) -> None:
    settings = settings_for(database, names)
    sink, schema, redis = await sink_for(settings)
    await schema.ensure()
    async with schema.engine.begin() as conn:  # the gateway's row of turn m1 came first
        await conn.execute(
            insert(ChatTurn),
            [
                {
                    "session_id": "s1",
                    "client_msg_id": "m1",
                    "user_text": "pay [card •••• 1111] turn 1",
                    "replies": [],
                    "entities": [],
                    "actions": [],
                    "latency_ms": 5,
                    "created_at": datetime.now(UTC),
                }
            ],
        )
    events = conversation("s1", 3)
    garbage: list[dict[str, Any] | bytes] = [
        b"not json",
        b'["a list"]',
        {"sender_id": "s1", "event": "user", "timestamp": "yesterday"},
    ]
    # A turn published twice (a retry), and messages that are no Rasa events.
    await publish(names[0], [*events[:7], *garbage, *events[7:], *events[:5]])
    await BrokerConsumer(settings, sink).consume(stop_when_idle=1.0)
    rows = stored(database)
    assert len(rows) == 3 * 4  # user, action, bot, action_listen per turn; no slots
    assert await waiting(names[1]) == 0  # all acked
    kept = json.dumps([list(map(str, r)) for r in rows], ensure_ascii=False)
    assert SEALED not in kept and "cust-hidden" not in kept and "secret-slot" not in kept
    # A gift code in a bot utterance is cut as in a stored reply.
    assert "7K2P" not in kept and "[gift card •••• C8NE]" in kept
    # At rest, the text and data are ciphertext only.
    assert all(text.startswith("v1:") for _, _, _, text, _ in stored_raw(database) if text)
    async with schema.engine.connect() as conn:
        turn = (await conn.execute(select(ChatTurn))).mappings().one()
    assert (turn["intent"], turn["confidence"], turn["actions"]) == (
        "transfer_money",
        0.51,
        ["transfer_form"],
    )
    assert turn["entities"] == [{"entity": "amount", "value": "5", "start": 4, "end": 5}]
    await schema.engine.dispose()
    await redis.aclose()


class StuckSink(EventSink):
    """Receives a batch and never finishes writing it (a consumer that hangs or dies
    before its commit)."""

    def __init__(self) -> None:
        self.received = asyncio.Event()

    async def write(self, bodies: list[bytes]) -> int:
        self.received.set()
        await asyncio.Event().wait()
        return 0


class UnackedSink(EventSink):
    """Writes the batch, then the connection drops before the ack (a consumer killed
    between its commit and its ack)."""

    async def write(self, bodies: list[bytes]) -> int:
        written = await super().write(bodies)
        raise ConnectionError("killed before the ack")
        return written


async def test_a_consumer_dying_before_or_after_its_write_loses_and_duplicates_nothing(
    database: str, names: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(broker, "BATCH", 20)
    settings = settings_for(database, names)
    events = conversation("s2", 10)  # 50 messages, 40 kept
    await publish(names[0], events)
    # 1. Stuck before writing; its connection closes: the batch goes back to the queue.
    stuck = StuckSink()
    task = asyncio.create_task(BrokerConsumer(settings, stuck).consume())
    await stuck.received.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert stored(database) == []
    # 2. Writes a batch, dies before acking it: redelivered, written again as no-ops.
    sink, schema, redis = await sink_for(settings)
    unacked = UnackedSink(schema, redis=redis, erased_key="brokertest:erased")
    with pytest.raises(ConnectionError):
        await BrokerConsumer(settings, unacked).consume()
    first = stored(database)
    assert 0 < len(first) <= 20
    # 3. A healthy consumer takes everything that is left, each event once.
    await BrokerConsumer(settings, sink).consume(stop_when_idle=1.0)
    rows = stored(database)
    assert len(rows) == len({r[0] for r in rows}) == 40
    assert await waiting(names[1]) == 0
    await schema.engine.dispose()
    await redis.aclose()


async def test_the_consumer_process_killed_mid_stream_loses_and_duplicates_nothing(
    database: str, names: tuple[str, str]
) -> None:
    """``python -m gateway.transcripts.consumer`` SIGKILLed while it works through
    1,000 conversations' events, then started again."""
    events = [e for n in range(250) for e in conversation(f"k{n}", 2)]  # 2,500 messages
    await publish(names[0], events)
    expected = sum(e["event"] != "slot" for e in events)
    settings = settings_for(database, names)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TRANSCRIPT_DATABASE_URL": database,
        "RASA_EVENTS_EXCHANGE": names[0],
        "RASA_EVENTS_QUEUE": names[1],
        "REDIS_KEY_PREFIX": settings.redis_key_prefix,
    }

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "gateway.transcripts.consumer"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )

    consumer = start()
    try:
        while not stored(database):  # killed once it has written something
            assert consumer.poll() is None
            await asyncio.sleep(0.02)
        consumer.send_signal(signal.SIGKILL)
        consumer.wait()
        partial = len(stored(database))
        assert partial < expected, "killed too late to show anything"
        consumer = start()
        deadline = time.monotonic() + 120
        while len(stored(database)) < expected and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
    finally:
        consumer.send_signal(signal.SIGKILL)
        consumer.wait()
    rows = stored(database)
    assert len(rows) == len({r[0] for r in rows}) == expected
    assert await waiting(names[1]) == 0
    per_session: dict[str, int] = {}
    for row in rows:
        per_session[row[1]] = per_session.get(row[1], 0) + 1
    assert set(per_session.values()) == {8}  # every conversation complete
