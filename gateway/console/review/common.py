"""What the review modules share: their problems, the audited action names, the
transaction every method runs in, the session-list cursor and a turn as staff see it."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.console.review.schemas import Feedback, TurnOut
from gateway.problems import Problem
from gateway.transcripts.model import CONSOLE_ID_PREFIX
from gateway.transcripts.schema import TranscriptSchema

log = logging.getLogger(__name__)


class TranscriptsUnavailable(Problem):
    status, slug, title = 503, "transcripts-unavailable", "Transcripts cannot be read now"


class SessionNotFound(Problem):
    status, slug, title = 404, "session-not-found", "No such conversation"


class TurnNotFound(Problem):
    status, slug, title = 404, "turn-not-found", "No such turn"


class BadCursor(Problem):
    status, slug, title = 422, "bad-cursor", "The cursor is not one this API gave out"


class BotUnreachable(Problem):
    status, slug = 503, "bot-unavailable"
    title = "Rasa cannot be reached; the erasure is not complete, ask for it again"


class Action:
    """What the audit log calls each audited action (one source of truth)."""

    VIEW = "transcript.view"
    EXPORT = "export"
    TRAINING_DATA = "training_data"
    LABEL = "label"
    ERASURE = "erasure"


def encode_cursor(last_at: datetime, session_id: str) -> str:
    raw = json.dumps([last_at.isoformat(), session_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, sid = json.loads(raw)
        return datetime.fromisoformat(at), str(sid)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise BadCursor() from exc


def turn_kind(row: Any) -> str:
    replies = row["replies"] or []
    if row["client_msg_id"].startswith(CONSOLE_ID_PREFIX) and replies:
        return str(replies[0].get("type") or "agent")
    if row["handoff"] and not replies and row["intent"] is None:
        return "to_agent"
    return "bot"


def _reply_seqs(row: Any) -> set[int]:
    return {int(r["seq"]) for r in row["replies"] or [] if isinstance(r, dict) and "seq" in r}


@contextlib.asynccontextmanager
async def transaction(schema: TranscriptSchema) -> AsyncIterator[AsyncConnection]:
    """One transaction, owned by the calling service method, on tables known to exist;
    the database being unreachable is a 503 for the caller."""
    try:
        await schema.ensure()
        async with schema.engine.begin() as conn:
            yield conn
    except SQLAlchemyError as exc:
        log.warning("transcript database: %r", exc)
        raise TranscriptsUnavailable() from exc


def turn_out(row: Any, feedback: Sequence[Any]) -> TurnOut:
    seqs = _reply_seqs(row)
    return TurnOut(
        turn_id=row["id"],
        client_msg_id=row["client_msg_id"],
        kind=turn_kind(row),
        customer_id=row["customer_id"],
        user_text=row["user_text"],
        replies=row["replies"] or [],
        intent=row["intent"],
        confidence=row["confidence"],
        label=row["label"],
        entities=row["entities"] or [],
        actions=row["actions"] or [],
        feedback=[
            Feedback(seq=f["seq"], value=f["value"], comment=f["comment"], at=f["at"])
            for f in feedback
            if f["seq"] in seqs
        ],
        fallback=row["fallback"],
        handoff=row["handoff"],
        failed=row["failed"],
        latency_ms=row["latency_ms"],
        created_at=row["created_at"],
    )
