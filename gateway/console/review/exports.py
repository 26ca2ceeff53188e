"""Supervisors' exports: the matching conversations' turns as JSON lines or CSV, and
their labelled turns as Rasa NLU training data. Each pull is audited (with its
filters) before any data leaves."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any, Literal

from gateway.console.review import formats
from gateway.console.review import repository as repo
from gateway.console.review.common import Action, transaction, turn_out
from gateway.console.review.schemas import SessionFilters
from gateway.console.staff import Staff
from gateway.transcripts.schema import TranscriptSchema

EXPORT_PAGE = 200  # sessions per SQL round of an export


class ExportService:
    def __init__(self, *, schema: TranscriptSchema, low_confidence: float) -> None:
        self._schema = schema
        self._low = low_confidence

    async def start_export(
        self, filters: SessionFilters, fmt: Literal["jsonl", "csv"], staff: Staff
    ) -> AsyncIterator[str]:
        """Audit the export, then hand back its body, produced a page of sessions at a
        time (the audit entry is committed before the first line goes out)."""
        async with transaction(self._schema) as conn:
            await repo.audit(
                conn, staff.handle, Action.EXPORT, f"format={fmt} {filters.describe()}"
            )
        return self._export(filters, fmt)

    async def _export(
        self, filters: SessionFilters, fmt: Literal["jsonl", "csv"]
    ) -> AsyncIterator[str]:
        after: tuple[datetime, str] | None = None
        first = True
        matches: set[str] | None = None
        while True:
            async with transaction(self._schema) as conn:
                if filters.words and matches is None:  # searched once, not per page
                    matches = await repo.word_matches_of(conn, filters, self._low)
                page = await repo.session_page(
                    conn, filters, self._low, EXPORT_PAGE, after, matches
                )
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
        turn = turn_out(row, [f for f in feedback if f["session_id"] == row["session_id"]])
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
        async with transaction(self._schema) as conn:
            sessions = await repo.matching_sessions(conn, filters, self._low)
            examples = await repo.labelled_examples(conn, sessions)
            await repo.audit(conn, staff.handle, Action.TRAINING_DATA, filters.describe())
        return formats.nlu_yaml((intent, text) for intent, text in examples)
