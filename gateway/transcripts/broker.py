"""Transcripts from Rasa's event broker (RabbitMQ), written exactly once per event.

Why this shape: Rasa's Pika broker (``bot/endpoints.yml``) publishes every tracker
event, persistent, to a fanout exchange bound to a durable queue. ``BrokerConsumer``
reads that queue with manual acks: it takes up to ``BATCH`` messages (waiting at most
``LINGER_SECONDS`` after the first), stores them in one transaction (``EventSink``)
and only after the commit acks them (one ``multiple`` ack). A consumer killed before
the ack leaves its messages unacked; RabbitMQ hands them out again when the connection
drops, and since each event's row is keyed by ``events.event_id`` (a hash of the
message) the redelivered ones insert nothing: nothing lost, nothing twice. If the
write fails the batch is nacked back onto the queue and the consumer pauses.

It runs in every gateway (competing consumers on the one queue, like the transcript
writer: nothing more to deploy or supervise) and, for a separately scaled or
restarted consumer, as ``python -m gateway.transcripts.consumer``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from gateway.metrics import Metrics
from gateway.settings import Settings
from gateway.transcripts import events, nlu_link
from gateway.transcripts import sessions as summaries
from gateway.transcripts.model import RasaEvent
from gateway.transcripts.schema import TranscriptSchema

log = logging.getLogger(__name__)
BATCH = 100
LINGER_SECONDS = 0.2
RETRY_SECONDS = 2.0


class EventSink:
    """Stores a batch of broker messages: their events (idempotent), the NLU of the
    turns they belong to, and those sessions' summaries, in one transaction. Events of
    conversations erased since (the transcript stream's erased set) are dropped."""

    def __init__(
        self,
        schema: TranscriptSchema,
        *,
        redis: Redis,
        erased_key: str,
        metrics: Metrics | None = None,
    ) -> None:
        self._schema = schema
        self._redis = redis
        self._erased_key = erased_key
        self._metrics = metrics

    async def write(self, bodies: list[bytes]) -> int:
        """Returns how many events were kept (new or already stored)."""
        await self._schema.ensure()
        records = {}
        for raw in bodies:
            try:
                record = events.record_of(events.decode(raw))
            except (events.BadEvent, ValueError, TypeError, AttributeError) as exc:
                # Not a Rasa event: dropped (and acked with its batch), never retried
                # forever in front of the events behind it.
                log.warning("broker message dropped: %r", exc)
                continue
            if record is not None:
                records[record["event_id"]] = record
        sessions = sorted({r["session_id"] for r in records.values()})
        if not sessions:
            return 0
        flags = await self._redis.smismember(self._erased_key, sessions)
        erased = {sid for sid, flag in zip(sessions, flags, strict=True) if flag}
        rows = [r for r in records.values() if r["session_id"] not in erased]
        sessions = [s for s in sessions if s not in erased]
        engine = self._schema.engine
        dialect: Any = postgresql if engine.dialect.name == "postgresql" else sqlite
        async with engine.begin() as conn:
            await nlu_link.lock_sessions(conn, sessions)
            if rows:
                statement = dialect.insert(RasaEvent).on_conflict_do_nothing(
                    index_elements=["event_id"]
                )
                await conn.execute(statement, rows)
            flagged = await nlu_link.link(conn, sessions)
            await summaries.refresh(conn, dialect, sessions)
        if self._metrics is not None:
            self._metrics.fallbacks.inc(flagged)
        return len(rows)


class BrokerConsumer:
    def __init__(self, settings: Settings, sink: EventSink) -> None:
        self._settings = settings
        self._sink = sink

    async def run(self) -> None:
        """Consume until cancelled; survives RabbitMQ, Redis and SQL outages."""
        while True:
            try:
                await self.consume()
            except asyncio.CancelledError:
                raise
            except (
                aio_pika.exceptions.AMQPException,
                ConnectionError,
                OSError,
                RedisError,
                SQLAlchemyError,
            ) as exc:
                log.warning("broker consumer paused: %r", exc)
            except Exception:  # a bug must pause the consumer, never end it
                log.exception("broker consumer failed")
            await asyncio.sleep(RETRY_SECONDS)

    async def consume(self, *, stop_when_idle: float | None = None) -> None:
        """One connection's worth of consuming. ``stop_when_idle``: return after that
        many seconds without a message (tests, draining)."""
        s = self._settings
        connection = await aio_pika.connect(
            host=s.rabbitmq_host,
            port=s.rabbitmq_port,
            login=s.rabbitmq_username,
            password=s.rabbitmq_password,
        )
        async with connection:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=BATCH)
            queue = await declare(channel, s.rasa_events_exchange, s.rasa_events_queue)
            inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
            await queue.consume(inbox.put)
            closed = asyncio.ensure_future(_closed(connection))
            try:
                while True:
                    batch = await _take(inbox, closed, stop_when_idle)
                    if batch is None:
                        return
                    await self._store(batch)
            finally:
                closed.cancel()

    async def _store(self, batch: list[AbstractIncomingMessage]) -> None:
        try:
            await self._sink.write([m.body for m in batch])
        except (RedisError, SQLAlchemyError, OSError):
            with contextlib.suppress(aio_pika.exceptions.AMQPException):
                await batch[-1].nack(multiple=True, requeue=True)
            raise
        await batch[-1].ack(multiple=True)  # only once the whole batch is committed


async def declare(channel: Any, exchange_name: str, queue_name: str) -> Any:
    """The exchange and queue exactly as Rasa's Pika broker declares them (a fanout
    exchange, not durable; a durable queue bound to it), so either may come first."""
    exchange = await channel.declare_exchange(exchange_name, aio_pika.ExchangeType.FANOUT)
    queue = await channel.declare_queue(queue_name, durable=True)
    await queue.bind(exchange, "")
    return queue


async def _closed(connection: Any) -> None:
    await connection.closed()


async def _take(
    inbox: asyncio.Queue[AbstractIncomingMessage],
    closed: asyncio.Future[None],
    idle: float | None,
) -> list[AbstractIncomingMessage] | None:
    """The next batch, or None when the connection closed or ``idle`` passed."""
    first = asyncio.ensure_future(inbox.get())
    waiting: set[asyncio.Future[Any]] = {first, closed}
    done, _ = await asyncio.wait(waiting, timeout=idle, return_when="FIRST_COMPLETED")
    if first not in done:
        first.cancel()
        if closed in done:
            raise ConnectionError("RabbitMQ connection closed")
        return None
    batch = [first.result()]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LINGER_SECONDS
    while len(batch) < BATCH:
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        try:
            batch.append(await asyncio.wait_for(inbox.get(), remaining))
        except TimeoutError:
            break
    return batch
