"""The console's review of recorded conversations: the list, transcripts, stats, the
audit log, and staff's marks (tags, notes, reviewed, labels). Exports and training
data are ``exports.py``, erasure ``erasure.py``.

Callers may rely on:
- Every method runs in one SQL transaction that it owns; the audit entry of a
  transcript view or label is written in the same transaction as the work, so no such
  action goes unrecorded.
- Refusals are ``Problem``s: 404 unknown session or turn, 422 bad cursor, 503 when the
  transcript database (or Redis) cannot be reached.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.chat.store import ChatStore
from gateway.console.review import repository as repo
from gateway.console.review import stats as stats_sql
from gateway.console.review.common import (
    Action,
    SessionNotFound,
    TurnNotFound,
    decode_cursor,
    encode_cursor,
    transaction,
    turn_out,
)
from gateway.console.review.schemas import (
    FLAGS,
    AuditPage,
    AuditRow,
    DayCount,
    FeedbackCounts,
    IntentCount,
    Labelled,
    Note,
    Rating,
    RatingStats,
    Reviewed,
    SessionFilters,
    SessionPage,
    SessionRow,
    Stats,
    Tags,
    TranscriptOut,
)
from gateway.console.staff import Staff
from gateway.problems import StoreUnavailable
from gateway.transcripts.schema import TranscriptSchema


class ReviewService:
    def __init__(
        self, *, schema: TranscriptSchema, store: ChatStore, low_confidence: float
    ) -> None:
        self._schema = schema
        self._store = store
        self._low = low_confidence

    # --- reading ------------------------------------------------------------------------

    async def sessions(
        self, filters: SessionFilters, limit: int, cursor: str | None
    ) -> SessionPage:
        after = decode_cursor(cursor) if cursor else None
        async with transaction(self._schema) as conn:
            rows = await repo.session_page(conn, filters, self._low, limit + 1, after)
            page = rows[:limit]
            ids = [r["session_id"] for r in page]
            tags = await repo.tags_of(conn, ids)
            disliked = await repo.disliked(conn, ids)
        data = [
            self._session_row(r, tags.get(r["session_id"], []), r["session_id"] in disliked)
            for r in page
        ]
        more = len(rows) > limit
        return SessionPage(
            data=data,
            next_cursor=encode_cursor(page[-1]["last_at"], page[-1]["session_id"])
            if more and page
            else None,
        )

    def _session_row(self, r: Any, tags: list[str], disliked: bool) -> SessionRow:
        applies = {
            "fallback": bool(r["fallback"]),
            "handoff": bool(r["handoff"]),
            "low_confidence": r["min_confidence"] is not None and r["min_confidence"] < self._low,
            "negative_feedback": disliked,
        }
        return SessionRow(
            session_id=r["session_id"],
            customer_id=r["customer_id"],
            customer_username=r["customer_username"],
            customer_name=r["customer_name"],
            started_at=r["started_at"],
            last_at=r["last_at"],
            turns=int(r["turns"] or 0),
            flags=[f for f in FLAGS if applies[f]],
            tags=tags,
            reviewed=bool(r["reviewed"]),
            rating=r["rating_score"],
        )

    async def transcript(self, session_id: str, staff: Staff) -> TranscriptOut:
        async with transaction(self._schema) as conn:
            rows = await repo.turns_of(conn, [session_id])
            meta = await repo.session_meta(conn, session_id)
            feedback = await repo.feedback_of(conn, [session_id])
            tags = (await repo.tags_of(conn, [session_id])).get(session_id, [])
            notes = await repo.notes_of(conn, session_id)
            await repo.audit(conn, staff.handle, Action.VIEW, session_id)
        turns = [turn_out(r, feedback) for r in rows]
        rating = None
        if meta is not None and meta["rating_score"] is not None:
            rating = Rating(
                score=meta["rating_score"], comment=meta["rating_comment"], at=meta["rated_at"]
            )
        return TranscriptOut(
            session_id=session_id,
            customer_id=meta["customer_id"] if meta else (rows[0]["customer_id"] if rows else None),
            customer_username=meta["customer_username"] if meta else None,
            customer_name=meta["customer_name"] if meta else None,
            tags=tags,
            reviewed=bool(meta["reviewed"]) if meta else False,
            rating=rating,
            notes=[Note(**n) for n in notes],
            data=turns,
        )

    async def stats(self, start: date | None, end: date | None) -> Stats:
        async with transaction(self._schema) as conn:
            s = await stats_sql.stats(
                conn,
                repo.day_start(start) if start else None,
                repo.day_start(end + timedelta(days=1)) if end else None,
            )
        turns = s["turns"]
        return Stats(
            conversations=s["conversations"],
            turns=turns,
            fallback_rate=round(s["fallbacks"] / turns, 4) if turns else 0.0,
            handoffs=s["handoffs"],
            feedback=FeedbackCounts(up=s["up"], down=s["down"]),
            ratings=RatingStats(
                count=s["ratings"],
                mean=None if s["rating_mean"] is None else round(s["rating_mean"], 2),
            ),
            top_intents=[IntentCount(intent=i, count=n) for i, n in s["top_intents"]],
            by_day=[
                DayCount(date=date.fromisoformat(d), conversations=c, turns=t)
                for d, c, t in s["by_day"]
            ],
        )

    async def audit(self, limit: int) -> AuditPage:
        async with transaction(self._schema) as conn:
            rows = await repo.audit_log(conn, limit)
        return AuditPage(
            data=[
                AuditRow(at=r["at"], staff=r["staff"], action=r["action"], target=r["target"])
                for r in rows
            ]
        )

    # --- staff's marks on a conversation ----------------------------------------------

    async def _known(self, conn: AsyncConnection, session_id: str) -> None:
        if await repo.session_known(conn, session_id):
            return
        try:
            live = await self._store.get_owner(session_id) is not None
        except RedisError as exc:
            raise StoreUnavailable() from exc
        if not live:
            raise SessionNotFound()

    async def add_tag(self, session_id: str, tag: str, staff: Staff) -> Tags:
        async with transaction(self._schema) as conn:
            await self._known(conn, session_id)
            await repo.add_tag(conn, session_id, tag, staff.handle)
            tags = await repo.tags_of(conn, [session_id])
        return Tags(session_id=session_id, tags=tags.get(session_id, []))

    async def remove_tag(self, session_id: str, tag: str) -> Tags:
        """Idempotent: a tag that is not there is not an error."""
        async with transaction(self._schema) as conn:
            await self._known(conn, session_id)
            await repo.remove_tag(conn, session_id, tag)
            tags = await repo.tags_of(conn, [session_id])
        return Tags(session_id=session_id, tags=tags.get(session_id, []))

    async def add_note(self, session_id: str, text: str, staff: Staff) -> Note:
        async with transaction(self._schema) as conn:
            await self._known(conn, session_id)
            return Note(**(await repo.add_note(conn, session_id, staff.handle, text)))

    async def review(self, session_id: str, reviewed: bool, staff: Staff) -> Reviewed:
        async with transaction(self._schema) as conn:
            await self._known(conn, session_id)
            await repo.set_reviewed(conn, session_id, reviewed, staff.handle)
        return Reviewed(session_id=session_id, reviewed=reviewed)

    async def label(self, turn_id: int, intent: str, staff: Staff) -> Labelled:
        async with transaction(self._schema) as conn:
            session_id = await repo.turn_exists(conn, turn_id)
            if session_id is None:
                raise TurnNotFound()
            await repo.set_label(conn, turn_id, intent, staff.handle)
            await repo.audit(
                conn, staff.handle, Action.LABEL, f"{session_id} turn {turn_id}: {intent}"
            )
        return Labelled(turn_id=turn_id, intent=intent)
