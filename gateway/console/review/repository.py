"""SQL for the console's review API. Functions take the connection of the caller's
transaction (the service owns it) and return plain rows.

Sessions are listed from ``chat_sessions`` (the summary the transcript writer keeps:
``transcripts/sessions.py``); the filters become WHERE clauses on it (word, intent,
tag and feedback filters as subqueries on their tables), so they combine, and the page
is keyset-paginated on (last_at, session_id), newest first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.console.review import search
from gateway.console.review.schemas import SessionFilters
from gateway.transcripts.encrypted import name_indexes
from gateway.transcripts.model import (
    CONSOLE_ID_PREFIX,
    AuditEntry,
    ChatSession,
    ChatTurn,
    ReplyFeedback,
    SessionNote,
    SessionTag,
    TurnLabel,
)

_customer_turn = ~ChatTurn.client_msg_id.startswith(CONSOLE_ID_PREFIX)


def _dialect(conn: AsyncConnection) -> Any:
    return postgresql if conn.dialect.name == "postgresql" else sqlite


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, UTC)


def _like(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _prefix(word: str) -> str:
    return _like(word)[1:]


LISTED = (
    "session_id",
    "customer_id",
    "started_at",
    "last_at",
    "turns",
    "fallback",
    "handoff",
    "min_confidence",
    "customer_username",
    "customer_name",
    "reviewed",
    "rating_score",
)


def filtered_sessions(
    filters: SessionFilters,
    low_confidence: float,
    word_matches: Collection[str] | None = None,
    name_matches: Collection[str] | None = None,
) -> Select[Any]:
    """The sessions matching ``filters`` (unordered, unlimited), from their summaries;
    with words (``q``), those in ``word_matches``, and a customer filter also matches
    the sessions in ``name_matches`` (``matching_sessions`` finds both)."""
    listed = [getattr(ChatSession, name) for name in LISTED]
    query = select(*listed).where(ChatSession.last_at.is_not(None))
    sid = ChatSession.session_id
    if filters.customer:
        # What staff type: an id, a username or its start ("demo00"), or part of the
        # display name ("kim"), case-insensitively. Names are encrypted: their parts are
        # matched after decryption (``matching_sessions``), whole names by blind index.
        # (Erasure names exactly: erasure.py.)
        who = filters.customer.lower()
        query = query.where(
            or_(
                customer_is(filters.customer),
                func.lower(ChatSession.customer_username).like(_prefix(who), escape="\\"),
                sid.in_(sorted(name_matches or ())),
            )
        )
    if filters.customer_id:
        query = query.where(ChatSession.customer_id == filters.customer_id)
    if filters.date_from:
        query = query.where(ChatSession.last_at >= day_start(filters.date_from))
    if filters.date_to:
        query = query.where(ChatSession.started_at < day_start(filters.date_to + timedelta(days=1)))
    if filters.intent:
        query = query.where(
            sid.in_(select(ChatTurn.session_id).where(ChatTurn.intent == filters.intent))
        )
    if filters.words:  # decrypted and matched in Python: search.py
        query = query.where(sid.in_(sorted(word_matches or ())))
    for flag in filters.flags:
        if flag == "fallback":
            query = query.where(ChatSession.fallback.is_(True))
        elif flag == "handoff":
            query = query.where(ChatSession.handoff.is_(True))
        elif flag == "low_confidence":
            query = query.where(ChatSession.min_confidence < low_confidence)
        else:
            query = query.where(
                sid.in_(select(ReplyFeedback.session_id).where(ReplyFeedback.value == "down"))
            )
    for tag in filters.tags:
        query = query.where(sid.in_(select(SessionTag.session_id).where(SessionTag.tag == tag)))
    if filters.reviewed is not None:
        query = query.where(ChatSession.reviewed.is_(filters.reviewed))
    return query


def customer_is(customer: str) -> Any:
    """The session's customer has this id, username (any case) or display name (any
    case: names are encrypted, so their blind index is compared, under every index key
    during a rotation)."""
    return or_(
        ChatSession.customer_id == customer,
        func.lower(ChatSession.customer_username) == customer.lower(),
        ChatSession.customer_name_index.in_(name_indexes(customer)),
    )


async def matching_sessions(
    conn: AsyncConnection, filters: SessionFilters, low_confidence: float
) -> Select[Any]:
    """``filtered_sessions``, with the word search (if any) done first."""
    matches = await word_matches_of(conn, filters, low_confidence) if filters.words else None
    names = await name_matches_of(conn, filters, low_confidence)
    return filtered_sessions(filters, low_confidence, matches, names)


async def name_matches_of(
    conn: AsyncConnection, filters: SessionFilters, low_confidence: float
) -> set[str] | None:
    """The sessions the other filters leave whose customer's name contains the customer
    filter (None without one)."""
    if not filters.customer:
        return None
    others = dataclasses.replace(filters, customer=None, q=None)
    narrowed = filtered_sessions(others, low_confidence)
    return await search.sessions_with_name_part(conn, narrowed, filters.customer)


async def word_matches_of(
    conn: AsyncConnection, filters: SessionFilters, low_confidence: float
) -> set[str]:
    """The sessions the other filters leave whose turns hold every word of ``q``."""
    # Without the customer filter: its name part is matched after decryption too.
    others = dataclasses.replace(filters, q=None, customer=None)
    narrowed = filtered_sessions(others, low_confidence)
    return await search.sessions_with_words(conn, narrowed, filters.words)


async def session_page(
    conn: AsyncConnection,
    filters: SessionFilters,
    low_confidence: float,
    limit: int,
    after: tuple[datetime, str] | None,
    word_matches: Collection[str] | None = None,
) -> list[Any]:
    """Up to ``limit`` matching sessions, newest first, after the cursor position
    (``word_matches``: the word search's result when the caller already has it)."""
    if filters.words and word_matches is None:
        word_matches = await word_matches_of(conn, filters, low_confidence)
    names = await name_matches_of(conn, filters, low_confidence)
    query = filtered_sessions(filters, low_confidence, word_matches, names)
    if after is not None:
        last_at, sid = after
        query = query.where(
            or_(
                ChatSession.last_at < last_at,
                and_(ChatSession.last_at == last_at, ChatSession.session_id < sid),
            )
        )
    query = query.order_by(ChatSession.last_at.desc(), ChatSession.session_id.desc()).limit(limit)
    return list((await conn.execute(query)).mappings().all())


async def tags_of(conn: AsyncConnection, session_ids: Sequence[str]) -> dict[str, list[str]]:
    rows = await conn.execute(
        select(SessionTag.session_id, SessionTag.tag)
        .where(SessionTag.session_id.in_(session_ids))
        .order_by(SessionTag.tag)
    )
    out: dict[str, list[str]] = {}
    for sid, tag in rows:
        out.setdefault(sid, []).append(tag)
    return out


async def disliked(conn: AsyncConnection, session_ids: Sequence[str]) -> set[str]:
    rows = await conn.execute(
        select(ReplyFeedback.session_id)
        .distinct()
        .where(ReplyFeedback.session_id.in_(session_ids), ReplyFeedback.value == "down")
    )
    return {r[0] for r in rows}


async def turns_of(conn: AsyncConnection, session_ids: Sequence[str]) -> list[Any]:
    """Every row of these sessions with its label, oldest first per session."""
    query = (
        select(ChatTurn, TurnLabel.intent.label("label"))
        .outerjoin(TurnLabel, TurnLabel.turn_id == ChatTurn.id)
        .where(ChatTurn.session_id.in_(session_ids))
        .order_by(ChatTurn.session_id, ChatTurn.created_at, ChatTurn.id)
    )
    return list((await conn.execute(query)).mappings().all())


async def session_meta(conn: AsyncConnection, session_id: str) -> Any:
    return (
        (await conn.execute(select(ChatSession).where(ChatSession.session_id == session_id)))
        .mappings()
        .first()
    )


async def feedback_of(conn: AsyncConnection, session_ids: Sequence[str]) -> list[Any]:
    return list(
        (
            await conn.execute(
                select(ReplyFeedback)
                .where(ReplyFeedback.session_id.in_(session_ids))
                .order_by(ReplyFeedback.seq)
            )
        )
        .mappings()
        .all()
    )


async def notes_of(conn: AsyncConnection, session_id: str) -> list[Any]:
    return list(
        (
            await conn.execute(
                select(SessionNote)
                .where(SessionNote.session_id == session_id)
                .order_by(SessionNote.id)
            )
        )
        .mappings()
        .all()
    )


async def session_known(conn: AsyncConnection, session_id: str) -> bool:
    found = await conn.execute(
        select(ChatTurn.id).where(ChatTurn.session_id == session_id).limit(1)
    )
    return found.first() is not None


async def ensure_session(conn: AsyncConnection, session_id: str) -> None:
    """A ``chat_sessions`` row to hang console data on (the writer fills the customer)."""
    customer = (
        await conn.execute(
            select(func.max(ChatTurn.customer_id)).where(ChatTurn.session_id == session_id)
        )
    ).scalar()
    await conn.execute(
        _dialect(conn)
        .insert(ChatSession)
        .values(session_id=session_id, customer_id=customer, reviewed=False)
        .on_conflict_do_nothing(index_elements=["session_id"])
    )


async def add_tag(conn: AsyncConnection, session_id: str, tag: str, staff: str) -> None:
    await conn.execute(
        _dialect(conn)
        .insert(SessionTag)
        .values(session_id=session_id, tag=tag, added_by=staff, added_at=datetime.now(UTC))
        .on_conflict_do_nothing(index_elements=["session_id", "tag"])
    )


async def remove_tag(conn: AsyncConnection, session_id: str, tag: str) -> bool:
    result = await conn.execute(
        delete(SessionTag).where(SessionTag.session_id == session_id, SessionTag.tag == tag)
    )
    return bool(result.rowcount)


async def add_note(conn: AsyncConnection, session_id: str, staff: str, text: str) -> Any:
    row = (
        (
            await conn.execute(
                insert(SessionNote)
                .values(session_id=session_id, staff=staff, text=text, created_at=datetime.now(UTC))
                .returning(*SessionNote.__table__.c)
            )
        )
        .mappings()
        .one()
    )
    return row


async def set_reviewed(conn: AsyncConnection, session_id: str, reviewed: bool, staff: str) -> None:
    await ensure_session(conn, session_id)
    await conn.execute(
        update(ChatSession)
        .where(ChatSession.session_id == session_id)
        .values(reviewed=reviewed, reviewed_by=staff if reviewed else None)
    )


async def turn_exists(conn: AsyncConnection, turn_id: int) -> str | None:
    """The turn's session id, or None."""
    return (await conn.execute(select(ChatTurn.session_id).where(ChatTurn.id == turn_id))).scalar()


async def set_label(conn: AsyncConnection, turn_id: int, intent: str, staff: str) -> None:
    statement = (
        _dialect(conn)
        .insert(TurnLabel)
        .values(turn_id=turn_id, intent=intent, staff=staff, labelled_at=datetime.now(UTC))
    )
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=["turn_id"],
            set_={"intent": intent, "staff": staff, "labelled_at": statement.excluded.labelled_at},
        )
    )


async def labelled_examples(conn: AsyncConnection, sessions: Select[Any]) -> list[Any]:
    """(label, masked text) of every labelled customer turn of these sessions."""
    ids = sessions.with_only_columns(sessions.selected_columns[0]).scalar_subquery()
    query = (
        select(TurnLabel.intent, ChatTurn.user_text)
        .join(ChatTurn, ChatTurn.id == TurnLabel.turn_id)
        .where(ChatTurn.session_id.in_(ids))
        .order_by(TurnLabel.intent, ChatTurn.id)
    )
    # The text is encrypted: empty texts (agent rows) are dropped after decryption.
    return [row for row in (await conn.execute(query)).all() if row[1]]


async def audit(conn: AsyncConnection, staff: str, action: str, target: str) -> None:
    await conn.execute(
        insert(AuditEntry).values(at=datetime.now(UTC), staff=staff, action=action, target=target)
    )


async def audit_log(conn: AsyncConnection, limit: int) -> list[Any]:
    return list(
        (await conn.execute(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)))
        .mappings()
        .all()
    )
