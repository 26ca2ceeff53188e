"""The per-conversation summary in ``chat_sessions``, kept by the transcript writer.

Why: the console lists conversations on every poll; aggregating all of ``chat_turns``
each time grows with the whole history. The writer instead recomputes the summary of
just the sessions in each batch it writes (one grouped query over their rows, by the
``session_id`` index) and upserts it, in the batch's transaction. Recomputing rather
than incrementing keeps it exact when a re-claimed entry is written twice (the turn
insert is then a no-op). ``backfill`` fills it once for rows written before it existed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Integer, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.transcripts.model import CONSOLE_ID_PREFIX, ChatSession, ChatTurn

SUMMARY_COLUMNS = (
    "customer_id",
    "started_at",
    "last_at",
    "turns",
    "fallback",
    "handoff",
    "min_confidence",
)


def _summaries() -> Any:
    customer_turn = ~ChatTurn.client_msg_id.startswith(CONSOLE_ID_PREFIX)
    return select(
        ChatTurn.session_id,
        func.max(ChatTurn.customer_id).label("customer_id"),
        func.min(ChatTurn.created_at).label("started_at"),
        func.max(ChatTurn.created_at).label("last_at"),
        func.sum(case((customer_turn, 1), else_=0)).label("turns"),
        func.max(cast(ChatTurn.fallback, Integer)).label("fallback"),
        func.max(cast(ChatTurn.handoff, Integer)).label("handoff"),
        func.min(ChatTurn.confidence).label("min_confidence"),
    ).group_by(ChatTurn.session_id)


async def refresh(conn: AsyncConnection, dialect: Any, session_ids: Sequence[str]) -> None:
    """Recompute and store the summary of these sessions from their rows."""
    if not session_ids:
        return
    rows = (
        (await conn.execute(_summaries().where(ChatTurn.session_id.in_(session_ids))))
        .mappings()
        .all()
    )
    await _store(conn, dialect, rows)


async def backfill(conn: AsyncConnection, dialect: Any) -> None:
    """Summaries for sessions that have rows but none yet (rows from before this)."""
    summarised = select(ChatSession.session_id).where(ChatSession.last_at.is_not(None))
    rows = (
        (await conn.execute(_summaries().where(ChatTurn.session_id.not_in(summarised))))
        .mappings()
        .all()
    )
    await _store(conn, dialect, rows)


async def _store(conn: AsyncConnection, dialect: Any, rows: Sequence[Any]) -> None:
    for row in rows:
        values = {k: row[k] for k in SUMMARY_COLUMNS}
        values.update(
            turns=int(values["turns"] or 0),
            fallback=bool(values["fallback"]),
            handoff=bool(values["handoff"]),
        )
        statement = dialect.insert(ChatSession).values(
            session_id=row["session_id"], reviewed=False, **values
        )
        await conn.execute(
            statement.on_conflict_do_update(
                index_elements=["session_id"],
                set_={k: getattr(statement.excluded, k) for k in SUMMARY_COLUMNS},
            )
        )
