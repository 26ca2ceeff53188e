"""Who a live conversation's customer is, for the console's queue: the username and
display name the transcript writer recorded from the customer's token claims."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from gateway.transcripts.model import ChatSession
from gateway.transcripts.schema import TranscriptSchema

log = logging.getLogger(__name__)


class CustomerNames:
    def __init__(self, schema: TranscriptSchema) -> None:
        self._schema = schema

    async def of(self, session_ids: list[str]) -> dict[str, tuple[str | None, str | None]]:
        """(username, display name) by session id; empty when the database is down (the
        queue still works, showing customer ids)."""
        if not session_ids:
            return {}
        query = select(
            ChatSession.session_id, ChatSession.customer_username, ChatSession.customer_name
        ).where(ChatSession.session_id.in_(session_ids))
        try:
            await self._schema.ensure()
            async with self._schema.engine.connect() as conn:
                rows = (await conn.execute(query)).all()
        except SQLAlchemyError as exc:
            log.warning("customer names unavailable for the queue: %r", exc)
            return {}
        return {row[0]: (row[1], row[2]) for row in rows}
