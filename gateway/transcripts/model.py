"""The transcript tables (SQLAlchemy 2), for the staff console.

``chat_turns``: one row per answered turn. Text is the masked form the bot saw;
replies are the stored server frames, ``reply_text`` their text for search. The other
tables hold what the console and the customer add around them: per-conversation facts
(who the customer is, reviewed, the customer's rating), tags, notes, intent labels,
per-reply feedback, and the staff audit log.

Created with ``create_all`` at startup; ``writer.prepare`` adds columns that came
later to existing tables (move to Alembic when it needs more than that). Text and
names are encrypted at rest (``encrypted.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from gateway.fieldcrypt import INDEX_LENGTH
from gateway.transcripts.encrypted import NAME_CONTEXT, EncryptedJSON, EncryptedText

CONSOLE_ID_PREFIX = "console:"  # client_msg_id of rows the staff console wrote


class Base(DeclarativeBase):
    pass


class ChatTurn(Base):
    __tablename__ = "chat_turns"
    __table_args__ = (UniqueConstraint("session_id", "client_msg_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(String(64), index=True)
    client_msg_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str | None] = mapped_column(String(128), index=True)
    # Personal data, encrypted at rest (encrypted.py): the text, the replies, reply_text.
    user_text: Mapped[str] = mapped_column(EncryptedText("chat_turns.user_text"))
    replies: Mapped[list[dict[str, Any]]] = mapped_column(EncryptedJSON("chat_turns.replies"))
    intent: Mapped[str | None] = mapped_column(String(200))
    confidence: Mapped[float | None] = mapped_column(Float)
    entities: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    actions: Mapped[list[str]] = mapped_column(JSON)
    fallback: Mapped[bool] = mapped_column(default=False)
    handoff: Mapped[bool] = mapped_column(default=False)
    failed: Mapped[bool] = mapped_column(default=False)
    latency_ms: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    # The replies' text, one per line (searched by the console's ``q``). Added later:
    # NULL in rows written before it, which the search reads from ``replies`` instead.
    reply_text: Mapped[str | None] = mapped_column(
        EncryptedText("chat_turns.reply_text"), nullable=True, default=None
    )


# Columns added after their table first shipped: (table, name, SQL type).
ADDED_COLUMNS = (
    ("chat_turns", "reply_text", "TEXT"),
    ("chat_sessions", "customer_name_index", f"VARCHAR({INDEX_LENGTH})"),
)


class RasaEvent(Base):
    """One Rasa event from the event broker (``events.record_of``): the user's NLU, the
    actions run and the bot's utterances, written exactly once by the broker consumer
    (``event_id`` is the message's content hash). The turn rows' NLU columns are
    derived from these (``nlu_link``)."""

    __tablename__ = "rasa_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    session_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[float] = mapped_column(Float, index=True)  # Rasa's timestamp (epoch s)
    name: Mapped[str | None] = mapped_column(String(200))  # action, or the intent
    # Personal data, encrypted at rest like the turns (encrypted.py): the masked user
    # text or redacted bot text, and the event's data (entities, buttons).
    text: Mapped[str | None] = mapped_column(EncryptedText("rasa_events.text"))
    data: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON("rasa_events.data"))


class ChatSession(Base):
    """One row per conversation, for the console's list: a summary of its turns kept
    by the transcript writer (recomputed from ``chat_turns`` for each batch it writes,
    so re-written entries never double-count), who the customer is (from the token
    claims of the turns, so staff can search by username and display name), and what
    staff and the customer added (reviewed, rating). ``last_at`` is NULL until the
    first turn is written (a rating or a tag can come first)."""

    __tablename__ = "chat_sessions"

    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    last_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), index=True, default=None
    )
    turns: Mapped[int] = mapped_column(Integer, default=0)  # the customer's, not staff's
    fallback: Mapped[bool] = mapped_column(default=False)
    handoff: Mapped[bool] = mapped_column(default=False)
    min_confidence: Mapped[float | None] = mapped_column(Float, default=None)
    customer_id: Mapped[str | None] = mapped_column(String(128), index=True, default=None)
    customer_username: Mapped[str | None] = mapped_column(String(128), index=True, default=None)
    # Encrypted at rest; the console's customer filter compares the blind index
    # (encrypted.name_index: HMAC of the case-folded name) instead.
    customer_name: Mapped[str | None] = mapped_column(EncryptedText(NAME_CONTEXT), default=None)
    customer_name_index: Mapped[str | None] = mapped_column(
        String(INDEX_LENGTH), index=True, default=None
    )
    reviewed: Mapped[bool] = mapped_column(default=False)
    reviewed_by: Mapped[str | None] = mapped_column(String(128), default=None)
    rating_score: Mapped[int | None] = mapped_column(Integer, default=None)
    # The customer's own words, like a turn's text: encrypted at rest.
    rating_comment: Mapped[str | None] = mapped_column(
        EncryptedText("chat_sessions.rating_comment"), default=None
    )
    rated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class SessionTag(Base):
    __tablename__ = "session_tags"

    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tag: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)
    added_by: Mapped[str] = mapped_column(String(128))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SessionNote(Base):
    __tablename__ = "session_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(String(64), index=True)
    staff: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(EncryptedText("session_notes.text"))  # about a customer
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TurnLabel(Base):
    """The right intent for a turn, as staff judged it (training data)."""

    __tablename__ = "turn_labels"

    turn_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    intent: Mapped[str] = mapped_column(String(200), index=True)
    staff: Mapped[str] = mapped_column(String(128))
    labelled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReplyFeedback(Base):
    """The customer's thumbs up/down on one bot frame; a later one replaces it."""

    __tablename__ = "reply_feedback"

    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[str] = mapped_column(String(4))
    comment: Mapped[str | None] = mapped_column(
        EncryptedText("reply_feedback.comment"), default=None
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class AuditEntry(Base):
    __tablename__ = "console_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    staff: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(Text)
