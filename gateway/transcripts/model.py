"""The ``chat_turns`` table (SQLAlchemy 2): one row per answered turn, for the staff
console. Text is the masked form the bot saw; replies are the stored server frames.
Created with ``create_all`` at startup (one table, additive changes only so far; move
to Alembic when it first needs a migration)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class ChatTurn(Base):
    __tablename__ = "chat_turns"
    __table_args__ = (UniqueConstraint("session_id", "client_msg_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(String(64), index=True)
    client_msg_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str | None] = mapped_column(String(128), index=True)
    user_text: Mapped[str] = mapped_column(Text)
    replies: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    intent: Mapped[str | None] = mapped_column(String(200))
    confidence: Mapped[float | None] = mapped_column(Float)
    entities: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    actions: Mapped[list[str]] = mapped_column(JSON)
    fallback: Mapped[bool] = mapped_column(default=False)
    handoff: Mapped[bool] = mapped_column(default=False)
    failed: Mapped[bool] = mapped_column(default=False)
    latency_ms: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
