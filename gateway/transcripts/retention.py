"""Retention of transcripts: what is older than TRANSCRIPT_RETENTION_DAYS goes.

Callers may rely on: ``purge(engine, days, now)`` deletes, in one transaction, the
turn rows created before the cutoff (with their staff labels), the broker-fed Rasa
events stamped before it, and conversations whose last turn is before it (their
summary, tags, notes and reply feedback). Idempotent, so every gateway may run it
(``purge_forever``, hourly). Rasa's trackers expire on their own in Redis
(RASA_TRACKER_TTL_SECONDS, ``record_exp`` in bot/endpoints.yml), gateway sessions
after SESSION_TTL_SECONDS.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError

from gateway.transcripts.model import (
    ChatSession,
    ChatTurn,
    RasaEvent,
    ReplyFeedback,
    SessionNote,
    SessionTag,
    TurnLabel,
)
from gateway.transcripts.schema import TranscriptSchema

log = logging.getLogger(__name__)
PURGE_INTERVAL_SECONDS = 3600.0


async def purge(schema: TranscriptSchema, days: int, now: datetime | None = None) -> int:
    """Returns how many conversations were removed whole."""
    await schema.ensure()
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    async with schema.engine.begin() as conn:
        old_turns = select(ChatTurn.id).where(ChatTurn.created_at < cutoff)
        await conn.execute(delete(TurnLabel).where(TurnLabel.turn_id.in_(old_turns)))
        await conn.execute(delete(ChatTurn).where(ChatTurn.created_at < cutoff))
        await conn.execute(delete(RasaEvent).where(RasaEvent.at < cutoff.timestamp()))
        gone = list(
            (
                await conn.execute(
                    select(ChatSession.session_id).where(ChatSession.last_at < cutoff)
                )
            ).scalars()
        )
        for table in (ReplyFeedback, SessionTag, SessionNote, ChatSession):
            await conn.execute(delete(table).where(table.session_id.in_(gone)))
    return len(gone)


async def purge_forever(schema: TranscriptSchema, days: int) -> None:
    while True:
        try:
            removed = await purge(schema, days)
            if removed:
                log.info("retention: %d conversations older than %d days removed", removed, days)
        except SQLAlchemyError as exc:
            log.warning("retention purge failed (tried again later): %r", exc)
        await asyncio.sleep(PURGE_INTERVAL_SECONDS)
