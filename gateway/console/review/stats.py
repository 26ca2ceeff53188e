"""SQL for the console's stats: over customer turns in a date range (UTC days)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, case, cast, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.transcripts.model import CONSOLE_ID_PREFIX, ChatSession, ChatTurn, ReplyFeedback

_customer_turn = ~ChatTurn.client_msg_id.startswith(CONSOLE_ID_PREFIX)


def _between(column: Any, start: datetime | None, end: datetime | None) -> list[Any]:
    out = []
    if start is not None:
        out.append(column >= start)
    if end is not None:
        out.append(column < end)
    return out


async def stats(
    conn: AsyncConnection, start: datetime | None, end: datetime | None, top: int = 10
) -> dict[str, Any]:
    turns = [_customer_turn, *_between(ChatTurn.created_at, start, end)]
    totals = (
        await conn.execute(
            select(
                func.count(distinct(ChatTurn.session_id)),
                func.count(),
                func.coalesce(func.sum(cast(ChatTurn.fallback, Integer)), 0),
                func.count(distinct(case((ChatTurn.handoff, ChatTurn.session_id)))),
            ).where(*turns)
        )
    ).one()
    votes = dict(
        (
            await conn.execute(
                select(ReplyFeedback.value, func.count())
                .where(*_between(ReplyFeedback.at, start, end))
                .group_by(ReplyFeedback.value)
            )
        ).all()
    )
    rated = (
        await conn.execute(
            select(func.count(ChatSession.rating_score), func.avg(ChatSession.rating_score)).where(
                ChatSession.rating_score.is_not(None), *_between(ChatSession.rated_at, start, end)
            )
        )
    ).one()
    intents = (
        await conn.execute(
            select(ChatTurn.intent, func.count().label("n"))
            .where(*turns, ChatTurn.intent.is_not(None))
            .group_by(ChatTurn.intent)
            .order_by(func.count().desc(), ChatTurn.intent)
            .limit(top)
        )
    ).all()
    day = func.date(ChatTurn.created_at)
    days = (
        await conn.execute(
            select(day, func.count(distinct(ChatTurn.session_id)), func.count())
            .where(*turns)
            .group_by(day)
            .order_by(day)
        )
    ).all()
    return {
        "conversations": totals[0],
        "turns": totals[1],
        "fallbacks": int(totals[2]),
        "handoffs": totals[3],
        "up": int(votes.get("up", 0)),
        "down": int(votes.get("down", 0)),
        "ratings": rated[0],
        "rating_mean": float(rated[1]) if rated[1] is not None else None,
        "top_intents": [(i, n) for i, n in intents],
        "by_day": [(str(d), c, t) for d, c, t in days],
    }
