"""Request and response bodies of the staff console API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Handoff(BaseModel):
    session_id: str
    state: str  # requested | accepted
    customer_id: str | None  # None for a guest
    agent: str | None  # display name of the agent holding it


class HandoffList(BaseModel):
    data: list[Handoff]


class AgentMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=2000)


class Posted(BaseModel):
    session_id: str
    seq: int
    state: str


class TranscriptTurn(BaseModel):
    client_msg_id: str
    kind: str  # bot (a turn the bot answered) | to_agent | agent | handoff
    customer_id: str | None
    user_text: str
    replies: list[dict[str, Any]]
    intent: str | None
    confidence: float | None
    entities: list[dict[str, Any]]
    actions: list[str]
    fallback: bool
    handoff: bool
    failed: bool
    latency_ms: int
    created_at: datetime


class Transcript(BaseModel):
    session_id: str
    data: list[TranscriptTurn]


class SessionSummary(BaseModel):
    session_id: str
    customer_id: str | None
    turns: int
    fallbacks: int
    handoff: bool
    failed: int
    first_at: datetime
    last_at: datetime


class SessionList(BaseModel):
    data: list[SessionSummary]
