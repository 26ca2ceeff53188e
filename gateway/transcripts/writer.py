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
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError
from sqlalchemy import func, or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from gateway.chat.pii import redact_reply
from gateway.chat.rasa_client import RasaClient
from gateway.chat.store import erased_set_key
from gateway.metrics import Metrics
from gateway.transcripts import sessions as summaries
from gateway.transcripts.encrypted import name_index
from gateway.transcripts.extract import nlu_details
from gateway.transcripts.model import (
    ChatSession,
    ChatTurn,
    ReplyFeedback,
)
from gateway.transcripts.schema import TranscriptSchema

log = logging.getLogger(__name__)
# Told which sessions a committed batch changed (and whether a handoff was among them):
# the console's live feed (``console/live.py``).
OnWritten = Callable[[list[str], bool], Awaitable[None]]
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
            await self._redis.xadd(
                self.key, {"turn": json.dumps(turn)}, maxlen=STREAM_MAX, approximate=True
            )
        except RedisError as exc:  # the turn itself is answered and stored; log the gap
            log.error(
                "transcript of %s/%s lost: %r",
                turn.get("session_id"),
                turn.get("client_msg_id"),
                exc,
            )


class TranscriptWriter:
    def __init__(
        self,
        *,
        redis: Redis,
        queue: TranscriptQueue,
        schema: TranscriptSchema,
        rasa: RasaClient,
        consumer: str,
        metrics: Metrics | None = None,
        on_written: OnWritten | None = None,
    ) -> None:
        self._metrics = metrics
        self._on_written = on_written
        self._redis = redis
        self._key = queue.key
        self._erased = erased_set_key(queue.key)
        self._schema = schema
        self._engine = schema.engine
        self._rasa = rasa
        self._consumer = consumer

    async def prepare(self) -> None:
        await self._schema.ensure()

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
            self._key, GROUP, self._consumer, RECLAIM_IDLE_MS, start_id="0-0", count=50
        )
        claimed = reclaimed[1]
        fresh: Any = await self._redis.xreadgroup(
            GROUP, self._consumer, {self._key: ">"}, count=50, block=block_ms
        )
        entries = list(claimed) + [e for _, batch in fresh for e in batch]
        # A claimed entry trimmed from the stream has no fields.
        turns = [
            json.loads(fields.get(b"turn") or fields.get("turn")) for _, fields in entries if fields
        ]
        await self._write(turns)
        if entries:  # only once the whole batch is in SQL
            ids = [entry_id for entry_id, _ in entries]
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.xack(self._key, GROUP, *ids)
                pipe.xdel(self._key, *ids)
                await pipe.execute()
        return len(entries)

    async def _write(self, entries: list[dict[str, Any]]) -> None:
        """One transaction for the batch; one tracker fetch per session in it. Entries
        of conversations erased since (``ConsoleReview.erase``) are dropped."""
        if not entries:
            return
        sessions = list(dict.fromkeys(e["session_id"] for e in entries))
        flags = await self._redis.smismember(self._erased, sessions)
        erased = {sid for sid, flag in zip(sessions, flags, strict=True) if flag}
        entries = [e for e in entries if e["session_id"] not in erased]
        turns = [e for e in entries if not e.get("event")]
        # Turns the bot answered have NLU data in Rasa's tracker; agent messages,
        # handoff changes and turns passed to an agent ("kind") do not.
        bot_sessions = dict.fromkeys(t["session_id"] for t in turns if not t.get("kind"))
        events = {sid: await self._rasa.tracker_events(sid) for sid in bot_sessions}
        rows = [self._row(turn, events.get(turn["session_id"], [])) for turn in turns]
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        async with self._engine.begin() as conn:
            if rows:
                statement = dialect.insert(ChatTurn).on_conflict_do_nothing(
                    index_elements=["session_id", "client_msg_id"]
                )
                await conn.execute(statement, rows)
            await summaries.refresh(
                conn, dialect, list(dict.fromkeys(t["session_id"] for t in turns))
            )
            # The latest claims per conversation name its customer.
            named = {t["session_id"]: t for t in turns if t.get("customer_id")}
            for turn in named.values():
                await _upsert_customer(conn, dialect, turn)
            # In stream order, so a later feedback or rating replaces an earlier one.
            for entry in entries:
                if entry.get("event") == "feedback":
                    await _upsert_feedback(conn, dialect, entry)
                elif entry.get("event") == "rating":
                    await _upsert_rating(conn, dialect, entry)
        if self._metrics is not None:
            count_outcomes(self._metrics, turns, rows)
        if self._on_written is not None and entries:
            changed = list(dict.fromkeys(e["session_id"] for e in entries))
            await self._on_written(changed, any(t.get("handoff") for t in turns))

    @staticmethod
    def _row(turn: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
        nlu = (
            nlu_details(events, turn["client_msg_id"], turn["user_text"])
            if not turn.get("kind")
            else nlu_details([], "", "")
        )
        replies = [_redacted(reply) for reply in turn["replies"]]
        return {
            "session_id": turn["session_id"],
            "client_msg_id": turn["client_msg_id"],
            "customer_id": turn.get("customer_id"),
            "user_text": turn["user_text"],
            "replies": replies,
            "reply_text": reply_text(replies),
            "intent": nlu["intent"],
            "confidence": nlu["confidence"],
            "entities": nlu["entities"],
            "actions": nlu["actions"],
            "fallback": nlu["fallback"],
            "handoff": bool(turn.get("handoff")),
            "failed": bool(turn.get("failed")),
            "latency_ms": int(turn["latency_ms"]),
            "created_at": datetime.fromtimestamp(float(turn["created_at"]), UTC),
        }


def count_outcomes(
    metrics: Metrics, turns: list[dict[str, Any]], rows: list[dict[str, Any]]
) -> None:
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


def reply_text(replies: list[Any]) -> str:
    """The searchable text of a turn's reply frames, one line each."""
    return "\n".join(
        str(r["text"])
        for r in replies
        if isinstance(r, dict) and isinstance(r.get("text"), str) and r["text"]
    )


def _at(entry: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(float(entry["at"]), UTC)


async def _upsert_customer(conn: AsyncConnection, dialect: Any, turn: dict[str, Any]) -> None:
    """Who the conversation's customer is, from the claims of their turns (the latest
    known username and display name win; a turn without them keeps what is there)."""
    statement = dialect.insert(ChatSession).values(
        session_id=turn["session_id"],
        customer_id=turn["customer_id"],
        customer_username=turn.get("customer_username"),
        customer_name=turn.get("customer_name"),
        customer_name_index=name_index(turn.get("customer_name")),
        reviewed=False,
    )
    new = statement.excluded
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=["session_id"],
            set_={
                "customer_id": new.customer_id,
                "customer_username": func.coalesce(
                    new.customer_username, ChatSession.customer_username
                ),
                "customer_name": func.coalesce(new.customer_name, ChatSession.customer_name),
                "customer_name_index": func.coalesce(
                    new.customer_name_index, ChatSession.customer_name_index
                ),
            },
        )
    )


async def _upsert_feedback(conn: AsyncConnection, dialect: Any, entry: dict[str, Any]) -> None:
    statement = dialect.insert(ReplyFeedback).values(
        session_id=entry["session_id"],
        seq=int(entry["seq"]),
        value=entry["value"],
        comment=entry.get("comment"),
        at=_at(entry),
    )
    new = statement.excluded
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=["session_id", "seq"],
            set_={"value": new.value, "comment": new.comment, "at": new.at},
            where=ReplyFeedback.at <= new.at,
        )
    )


async def _upsert_rating(conn: AsyncConnection, dialect: Any, entry: dict[str, Any]) -> None:
    statement = dialect.insert(ChatSession).values(
        session_id=entry["session_id"],
        customer_id=entry.get("customer_id"),
        reviewed=False,
        rating_score=int(entry["score"]),
        rating_comment=entry.get("comment"),
        rated_at=_at(entry),
    )
    new = statement.excluded
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=["session_id"],
            set_={
                "rating_score": new.rating_score,
                "rating_comment": new.rating_comment,
                "rated_at": new.rated_at,
            },
            where=or_(ChatSession.rated_at.is_(None), ChatSession.rated_at <= new.rated_at),
        )
    )
