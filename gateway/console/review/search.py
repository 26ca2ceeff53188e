"""The console's word search (``q``) over encrypted transcripts: decrypt and filter.

Why not SQL: the text, replies and reply text of ``chat_turns`` are ciphertext at rest
(``transcripts/encrypted.py``), so ``ILIKE`` sees nothing. A blind index would find
only whole, exactly-spelled tokens, while staff search for fragments ("transf",
"IBAN"). So the other filters narrow the sessions in SQL first, then the turns of
those sessions are streamed, decrypted and matched here (case-insensitive substring,
every word somewhere in the conversation, as before). The cost grows with the turns
of the narrowed sessions: docs/operations.md "Encryption at rest" has the measured
figures (``bench/console_search.py``); a date range bounds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, case, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.transcripts.model import ChatSession, ChatTurn
from gateway.transcripts.writer import reply_text

STREAM_ROWS = 500  # rows fetched per round trip while streaming


def searchable_text(user_text: str, reply: str | None, replies: Sequence[object] | None) -> str:
    """What ``q`` matches in one turn: the customer's text and the replies' text (rows
    written before ``reply_text`` existed have only ``replies``)."""
    return f"{user_text}\n{reply if reply is not None else reply_text(list(replies or []))}"


async def sessions_with_words(
    conn: AsyncConnection, narrowed: Select[Any], words: Sequence[str]
) -> set[str]:
    """Sessions of ``narrowed`` (the other filters' query, session id first) whose turns
    contain every one of ``words``."""
    words = [w.casefold() for w in words]
    candidates = narrowed.with_only_columns(narrowed.selected_columns[0])
    # The replies' JSON only for rows without reply_text: one decryption less per turn.
    old_replies = case((ChatTurn.reply_text.is_(None), ChatTurn.replies), else_=None)
    query = select(ChatTurn.session_id, ChatTurn.user_text, ChatTurn.reply_text, old_replies).where(
        ChatTurn.session_id.in_(candidates.scalar_subquery())
    )
    missing: dict[str, set[str]] = {}
    result = await conn.stream(query.execution_options(yield_per=STREAM_ROWS))
    async for rows in result.partitions():  # per partition: an await per row is slow
        for session_id, user_text, reply, replies in rows:
            left = missing.setdefault(session_id, set(words))
            if not left:
                continue
            text = searchable_text(user_text or "", reply, replies).casefold()
            left.difference_update([w for w in left if w in text])
    return {sid for sid, left in missing.items() if not left}


async def sessions_with_name_part(
    conn: AsyncConnection, narrowed: Select[Any], part: str
) -> set[str]:
    """Sessions of ``narrowed`` whose customer's (decrypted) display name contains
    ``part``, case-insensitively ("sasha sea" finds "Sasha Seaborne")."""
    wanted = part.casefold()
    candidates = narrowed.with_only_columns(narrowed.selected_columns[0])
    query = select(ChatSession.session_id, ChatSession.customer_name).where(
        ChatSession.session_id.in_(candidates.scalar_subquery()),
        ChatSession.customer_name.is_not(None),
    )
    found: set[str] = set()
    result = await conn.stream(query.execution_options(yield_per=STREAM_ROWS))
    async for rows in result.partitions():
        found.update(sid for sid, name in rows if name and wanted in str(name).casefold())
    return found
