"""Retention (gateway/transcripts/retention.py): turn rows, broker-fed Rasa events and
whole conversations older than TRANSCRIPT_RETENTION_DAYS go; newer ones stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

from gateway.transcripts import retention
from gateway.transcripts.model import ChatSession, ChatTurn, RasaEvent, SessionTag
from gateway.transcripts.schema import TranscriptSchema
from gateway.transcripts.writer import make_engine

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def turn(session_id: str, cmid: str, at: datetime) -> dict[str, object]:
    return {
        "session_id": session_id,
        "client_msg_id": cmid,
        "user_text": "hi",
        "replies": [],
        "entities": [],
        "actions": [],
        "latency_ms": 1,
        "created_at": at,
    }


def event(session_id: str, n: int, at: datetime) -> dict[str, object]:
    return {
        "event_id": f"{session_id}-{n}",
        "session_id": session_id,
        "kind": "user",
        "at": at.timestamp(),
        "data": {},
    }


async def test_purge_removes_only_what_is_older_than_the_policy(tmp_path: Path) -> None:
    schema = TranscriptSchema(make_engine(f"sqlite+aiosqlite:///{tmp_path}/t.sqlite3"))
    await schema.ensure()
    old, recent = NOW - timedelta(days=31), NOW - timedelta(days=29)
    async with schema.engine.begin() as conn:
        await conn.execute(
            insert(ChatTurn),
            [turn("old", "1", old), turn("mixed", "1", old), turn("mixed", "2", recent)],
        )
        await conn.execute(
            insert(RasaEvent),
            [event("old", 1, old), event("mixed", 1, old), event("mixed", 2, recent)],
        )
        await conn.execute(
            insert(ChatSession),
            [
                {"session_id": "old", "last_at": old, "reviewed": False},
                {"session_id": "mixed", "last_at": recent, "reviewed": False},
            ],
        )
        await conn.execute(
            insert(SessionTag),
            [
                {"session_id": s, "tag": "t", "added_by": "a", "added_at": old}
                for s in ("old", "mixed")
            ],
        )
    assert await retention.purge(schema, 30, now=NOW) == 1
    async with schema.engine.connect() as conn:
        turns = (await conn.execute(select(ChatTurn.session_id, ChatTurn.client_msg_id))).all()
        events = (await conn.execute(select(RasaEvent.event_id))).scalars().all()
        sessions = (await conn.execute(select(ChatSession.session_id))).scalars().all()
        tags = (await conn.execute(select(func.count()).select_from(SessionTag))).scalar()
    assert turns == [("mixed", "2")]
    assert events == ["mixed-2"]
    assert sessions == ["mixed"] and tags == 1
    assert await retention.purge(schema, 30, now=NOW) == 0  # idempotent
    await schema.engine.dispose()
