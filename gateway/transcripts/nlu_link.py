"""Fills the NLU columns of ``chat_turns`` from the broker-fed ``rasa_events``.

Why: a turn's row (from the gateway's transcript stream) and its Rasa events (from the
event broker) arrive independently and in either order. Both writers call ``link``
in the transaction that stores their half, after ``lock_sessions``: on PostgreSQL a
transaction-scoped advisory lock per session (taken in sorted order, so two writers
never deadlock) makes the second writer wait for the first to commit, and its reads
then see both halves. SQLite serialises writing transactions itself (a conflicting one
fails and is retried by its writer). ``link`` recomputes rather than increments, so
writing a half twice changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.transcripts.events import turn_nlu
from gateway.transcripts.model import CONSOLE_ID_PREFIX, ChatTurn, RasaEvent

NLU_COLUMNS = ("intent", "confidence", "entities", "actions", "fallback")


async def lock_sessions(conn: AsyncConnection, session_ids: Sequence[str]) -> None:
    if conn.dialect.name != "postgresql":
        return
    for sid in sorted(set(session_ids)):
        await conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(sid))))


async def link(conn: AsyncConnection, session_ids: Sequence[str]) -> int:
    """Update the NLU columns of these sessions' turns whose user event is stored;
    returns how many turns became flagged ``fallback`` (for the metric)."""
    if not session_ids:
        return 0
    sessions = sorted(set(session_ids))
    turns = (
        await conn.execute(
            select(ChatTurn.id, ChatTurn.session_id, ChatTurn.client_msg_id, *_nlu_columns())
            .where(ChatTurn.session_id.in_(sessions))
            .where(~ChatTurn.client_msg_id.startswith(CONSOLE_ID_PREFIX))
        )
    ).mappings()
    by_session: dict[str, list[Any]] = defaultdict(list)
    for turn in turns:
        by_session[turn["session_id"]].append(turn)
    if not by_session:
        return 0
    stored = (
        await conn.execute(
            select(RasaEvent.session_id, RasaEvent.kind, RasaEvent.name, RasaEvent.data)
            .where(RasaEvent.session_id.in_(list(by_session)))
            .where(RasaEvent.kind.in_(("user", "action")))
            .order_by(RasaEvent.session_id, RasaEvent.at, RasaEvent.seq)
        )
    ).mappings()
    events: dict[str, list[Any]] = defaultdict(list)
    for event in stored:
        events[event["session_id"]].append(event)
    flagged = 0
    for sid, rows in by_session.items():
        for turn in rows:
            nlu = turn_nlu(events[sid], turn["client_msg_id"])
            if nlu is None or all(turn[k] == nlu[k] for k in NLU_COLUMNS):
                continue
            flagged += int(nlu["fallback"] and not turn["fallback"])
            await conn.execute(update(ChatTurn).where(ChatTurn.id == turn["id"]).values(**nlu))
    return flagged


def _nlu_columns() -> list[Any]:
    return [getattr(ChatTurn, name) for name in NLU_COLUMNS]
