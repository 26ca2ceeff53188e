"""The console's review work on recorded conversations.

Callers may rely on:
- Every method runs in one SQL transaction (``engine.begin()``) that it owns; the
  audit entry of a transcript view, export, training-data pull, label or erasure is
  written in the same transaction as the work, so no such action goes unrecorded.
- Refusals are ``Problem``s: 404 unknown session or turn, 422 bad cursor, 503 when the
  transcript database (or, for erasure, Redis or Rasa) cannot be reached.
- ``erase`` empties the customer's Rasa trackers first, then deletes their gateway
  sessions in Redis, then their transcript rows and everything staff added to them;
  each step is idempotent, so a refused erasure (503) is simply asked for again.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Literal

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.chat.protocol import owner_of
from gateway.chat.rasa_client import BotUnavailable, RasaClient
from gateway.chat.store import ChatStore
from gateway.console.review import formats
from gateway.console.review import repository as repo
from gateway.console.review.schemas import (
    FLAGS,
    AuditPage,
    AuditRow,
    DayCount,
    Erased,
    Feedback,
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
    TurnOut,
)
from gateway.console.staff import Staff
from gateway.problems import Problem, StoreUnavailable
from gateway.transcripts.model import CONSOLE_ID_PREFIX

EXPORT_PAGE = 200  # sessions per SQL round of an export


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


class ReviewService:
    def __init__(
        self, *, engine: AsyncEngine, store: ChatStore, rasa: RasaClient, low_confidence: float
    ) -> None:
        self._engine = engine
        self._store = store
        self._rasa = rasa
        self._low = low_confidence

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncConnection]:
        try:
            async with self._engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise TranscriptsUnavailable() from exc

    # --- reading ------------------------------------------------------------------------

    async def sessions(
        self, filters: SessionFilters, limit: int, cursor: str | None
    ) -> SessionPage:
        after = decode_cursor(cursor) if cursor else None
        async with self._transaction() as conn:
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
        async with self._transaction() as conn:
            rows = await repo.turns_of(conn, [session_id])
            meta = await repo.session_meta(conn, session_id)
            feedback = await repo.feedback_of(conn, [session_id])
            tags = (await repo.tags_of(conn, [session_id])).get(session_id, [])
            notes = await repo.notes_of(conn, session_id)
            await repo.audit(conn, staff.handle, Action.VIEW, session_id)
        turns = [self._turn(r, feedback) for r in rows]
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

    @staticmethod
    def _turn(row: Any, feedback: Sequence[Any]) -> TurnOut:
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

    async def stats(self, start: date | None, end: date | None) -> Stats:
        async with self._transaction() as conn:
            s = await repo.stats(
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
        async with self._transaction() as conn:
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
        async with self._transaction() as conn:
            await self._known(conn, session_id)
            await repo.add_tag(conn, session_id, tag, staff.handle)
            tags = await repo.tags_of(conn, [session_id])
        return Tags(session_id=session_id, tags=tags.get(session_id, []))

    async def remove_tag(self, session_id: str, tag: str) -> Tags:
        """Idempotent: a tag that is not there is not an error."""
        async with self._transaction() as conn:
            await self._known(conn, session_id)
            await repo.remove_tag(conn, session_id, tag)
            tags = await repo.tags_of(conn, [session_id])
        return Tags(session_id=session_id, tags=tags.get(session_id, []))

    async def add_note(self, session_id: str, text: str, staff: Staff) -> Note:
        async with self._transaction() as conn:
            await self._known(conn, session_id)
            return Note(**(await repo.add_note(conn, session_id, staff.handle, text)))

    async def review(self, session_id: str, reviewed: bool, staff: Staff) -> Reviewed:
        async with self._transaction() as conn:
            await self._known(conn, session_id)
            await repo.set_reviewed(conn, session_id, reviewed, staff.handle)
        return Reviewed(session_id=session_id, reviewed=reviewed)

    async def label(self, turn_id: int, intent: str, staff: Staff) -> Labelled:
        async with self._transaction() as conn:
            session_id = await repo.turn_exists(conn, turn_id)
            if session_id is None:
                raise TurnNotFound()
            await repo.set_label(conn, turn_id, intent, staff.handle)
            await repo.audit(
                conn, staff.handle, Action.LABEL, f"{session_id} turn {turn_id}: {intent}"
            )
        return Labelled(turn_id=turn_id, intent=intent)

    # --- supervisors: export, training data, erasure ------------------------------------

    async def start_export(
        self, filters: SessionFilters, fmt: Literal["jsonl", "csv"], staff: Staff
    ) -> AsyncIterator[str]:
        """Audit the export, then hand back its body, produced a page of sessions at a
        time (the audit entry is committed before the first line goes out)."""
        async with self._transaction() as conn:
            await repo.audit(
                conn, staff.handle, Action.EXPORT, f"format={fmt} {filters.describe()}"
            )
        return self._export(filters, fmt)

    async def _export(
        self, filters: SessionFilters, fmt: Literal["jsonl", "csv"]
    ) -> AsyncIterator[str]:
        after: tuple[datetime, str] | None = None
        first = True
        while True:
            async with self._transaction() as conn:
                page = await repo.session_page(conn, filters, self._low, EXPORT_PAGE, after)
                ids = [r["session_id"] for r in page]
                rows = await repo.turns_of(conn, ids)
                feedback = await repo.feedback_of(conn, ids)
            by_session = {r["session_id"]: r for r in page}
            records = [
                self._export_record(row, by_session[row["session_id"]], feedback) for row in rows
            ]
            if fmt == "csv":
                if records or first:
                    yield formats.csv_text(records, header=first)
            else:
                for record in records:
                    yield formats.jsonl_line(record)
            first = False
            if len(page) < EXPORT_PAGE:
                return
            after = (page[-1]["last_at"], page[-1]["session_id"])

    def _export_record(self, row: Any, session: Any, feedback: Sequence[Any]) -> dict[str, Any]:
        turn = self._turn(row, [f for f in feedback if f["session_id"] == row["session_id"]])
        return {
            "session_id": row["session_id"],
            "turn_id": turn.turn_id,
            "created_at": turn.created_at.isoformat(),
            "customer_id": turn.customer_id,
            "customer_username": session["customer_username"],
            "kind": turn.kind,
            "user_text": turn.user_text,
            "replies": turn.replies,
            "reply_text": row["reply_text"]
            or "\n".join(str(r.get("text")) for r in turn.replies if r.get("text")),
            "intent": turn.intent,
            "confidence": turn.confidence,
            "label": turn.label,
            "fallback": turn.fallback,
            "handoff": turn.handoff,
            "feedback": [f.value for f in turn.feedback],
        }

    async def training_data(self, filters: SessionFilters, staff: Staff) -> str:
        async with self._transaction() as conn:
            sessions = repo.filtered_sessions(filters, self._low)
            examples = await repo.labelled_examples(conn, sessions)
            await repo.audit(conn, staff.handle, Action.TRAINING_DATA, filters.describe())
        return formats.nlu_yaml((intent, text) for intent, text in examples)

    async def erase(self, customer: str, staff: Staff) -> Erased:
        async with self._transaction() as conn:
            ids = await repo.customer_ids(conn, customer)
            recorded = await repo.sessions_of(conn, ids) if ids else []
            names = await repo.names_of(conn, ids) | {customer}
        try:
            if customer not in ids and await self._store.sessions_of(owner_of(customer)):
                ids.append(customer)  # a customer id known only to live sessions
            live = [sid for cid in ids for sid in await self._store.sessions_of(owner_of(cid))]
        except RedisError as exc:
            raise StoreUnavailable() from exc
        sessions = sorted(set(recorded) | set(live))
        for sid in sessions:
            try:
                await self._rasa.empty_tracker(sid)
            except BotUnavailable as exc:
                raise BotUnreachable() from exc
        try:
            await self._store.erase_sessions([owner_of(cid) for cid in ids], sessions)
        except RedisError as exc:
            raise StoreUnavailable() from exc
        async with self._transaction() as conn:
            if sessions:
                await repo.erase(conn, sessions, names)
            # That it happened, by whom and when; not whose conversations.
            await repo.audit(conn, staff.handle, Action.ERASURE, "[erased]")
        return Erased(erased_sessions=len(sessions))
