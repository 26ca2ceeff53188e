"""Durable transcript writing: finished turns go through a Redis stream, then into SQL.

Why this shape: the turn worker must not wait for SQL or for Rasa's tracker (the user
already has the reply), and nothing may be lost when a gateway stops. So the turn's
completion script (``ChatStore.complete``) XADDs it to ``{prefix}transcripts``,
atomically with storing its replies; every instance runs a ``TranscriptWriter`` in
consumer group ``writers``, which reads up to 50 entries at a time, fetches the NLU
data from ``GET /conversations/{sid}/tracker`` (once per session in the batch),
inserts the batch's rows in one transaction and only then XACKs (and XDELs) them. An
entry whose writer died stays pending and is re-claimed (XAUTOCLAIM) after
``RECLAIM_IDLE_MS``, by any instance, including after a restart; inserts are
idempotent (unique session_id + client_msg_id), so a re-claimed entry that was in
fact written is harmless. If the tracker cannot be fetched the row is written without
NLU fields rather than held back. The stream is capped (MAXLEN ~ STREAM_MAX).
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from gateway.chat.pii import redact_reply
from gateway.chat.rasa_client import RasaClient
from gateway.metrics import Metrics
from gateway.transcripts.extract import nlu_details
from gateway.transcripts.model import Base, ChatTurn

log = logging.getLogger(__name__)
GROUP = "writers"
RECLAIM_IDLE_MS = 30_000
STREAM_MAX = 100_000


def make_engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)
    return create_async_engine(url, pool_pre_ping=True)


class TranscriptQueue:
    def __init__(self, redis: Redis, *, key_prefix: str) -> None:
        self._redis = redis
        self.key = f"{key_prefix}transcripts"

    async def enqueue(self, turn: dict[str, Any]) -> None:
        try:
            await self._redis.xadd(self.key, {"turn": json.dumps(turn)}, maxlen=STREAM_MAX,
                                   approximate=True)
        except RedisError as exc:  # the turn itself is answered and stored; log the gap
            log.error("transcript of %s/%s lost: %r", turn.get("session_id"),
                      turn.get("client_msg_id"), exc)


class TranscriptWriter:
    def __init__(self, *, redis: Redis, queue: TranscriptQueue, engine: AsyncEngine,
                 rasa: RasaClient, consumer: str, metrics: Metrics | None = None) -> None:
        self._metrics = metrics
        self._redis = redis
        self._key = queue.key
        self._engine = engine
        self._rasa = rasa
        self._consumer = consumer

    async def prepare(self) -> None:
        async with self._engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)

    async def run(self) -> None:
        """Write entries until cancelled; survives Redis, SQL and Rasa outages."""
        prepared = False
        while True:
            try:
                if not prepared:
                    await self.prepare()
                    prepared = True
                await self._ensure_group()
                while True:
                    await self.drain_once(block_ms=1000)
            except (RedisError, SQLAlchemyError, OSError) as exc:
                log.warning("transcript writer paused: %r", exc)
                await asyncio.sleep(2.0)

    async def _ensure_group(self) -> None:
        try:
            await self._redis.xgroup_create(self._key, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def drain_once(self, block_ms: int | None = None) -> int:
        """Write what is waiting (stale pending first); returns how many were written."""
        reclaimed: Any = await self._redis.xautoclaim(
            self._key, GROUP, self._consumer, RECLAIM_IDLE_MS, start_id="0-0", count=50)
        claimed = reclaimed[1]
        fresh: Any = await self._redis.xreadgroup(GROUP, self._consumer, {self._key: ">"},
                                             count=50, block=block_ms)
        entries = list(claimed) + [e for _, batch in fresh for e in batch]
        # A claimed entry trimmed from the stream has no fields.
        turns = [json.loads(fields.get(b"turn") or fields.get("turn"))
                 for _, fields in entries if fields]
        await self._write(turns)
        if entries:  # only once the whole batch is in SQL
            ids = [entry_id for entry_id, _ in entries]
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.xack(self._key, GROUP, *ids)
                pipe.xdel(self._key, *ids)
                await pipe.execute()
        return len(entries)

    async def _write(self, turns: list[dict[str, Any]]) -> None:
        """One transaction for the batch; one tracker fetch per session in it."""
        if not turns:
            return
        # Turns the bot answered have NLU data in Rasa's tracker; agent messages,
        # handoff changes and turns passed to an agent ("kind") do not.
        bot_sessions = dict.fromkeys(t["session_id"] for t in turns if not t.get("kind"))
        events = {sid: await self._rasa.tracker_events(sid) for sid in bot_sessions}
        rows = [self._row(turn, events.get(turn["session_id"], [])) for turn in turns]
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(ChatTurn).on_conflict_do_nothing(
            index_elements=["session_id", "client_msg_id"])
        async with self._engine.begin() as conn:
            await conn.execute(statement, rows)
        if self._metrics is not None:
            count_outcomes(self._metrics, turns, rows)

    @staticmethod
    def _row(turn: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
        nlu = (nlu_details(events, turn["client_msg_id"], turn["user_text"])
               if not turn.get("kind") else nlu_details([], "", ""))
        return {
            "session_id": turn["session_id"], "client_msg_id": turn["client_msg_id"],
            "customer_id": turn.get("customer_id"), "user_text": turn["user_text"],
            "replies": [_redacted(reply) for reply in turn["replies"]],
            "intent": nlu["intent"],
            "confidence": nlu["confidence"], "entities": nlu["entities"],
            "actions": nlu["actions"], "fallback": nlu["fallback"],
            "handoff": bool(turn.get("handoff")), "failed": bool(turn.get("failed")),
            "latency_ms": int(turn["latency_ms"]),
            "created_at": datetime.fromtimestamp(float(turn["created_at"]), UTC),
        }


def count_outcomes(metrics: Metrics, turns: list[dict[str, Any]],
                   rows: list[dict[str, Any]]) -> None:
    """gateway_fallbacks_total and gateway_handoffs_total{state} for written turns."""
    for turn, row in zip(turns, rows, strict=True):
        if row["fallback"]:
            metrics.fallbacks.inc()
        kind = turn.get("kind")
        if kind == "handoff":
            for reply in turn.get("replies") or ():
                if isinstance(reply, dict) and reply.get("type") == "handoff":
                    metrics.handoffs.labels(state=str(reply.get("state"))).inc()
        elif not kind and turn.get("handoff"):
            metrics.handoffs.labels(state="requested").inc()


def _redacted(reply: Any) -> Any:
    """A reply frame as staff may see it: a gift card's code is shown to its buyer once
    and is never kept in a transcript (see ``pii.redact_reply``)."""
    if isinstance(reply, dict) and isinstance(reply.get("text"), str):
        return {**reply, "text": redact_reply(reply["text"])}
    return reply
