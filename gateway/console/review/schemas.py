"""Request and response bodies of the console's review API, and the session filters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

Flag = Literal["fallback", "low_confidence", "handoff", "negative_feedback"]
FLAGS: tuple[Flag, ...] = get_args(Flag)
# Tags are short words staff type; intents look like Rasa's (``faq/<label>`` included).
TAG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"
INTENT_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_./-]{0,199}$"


@dataclass(frozen=True)
class SessionFilters:
    """The session filters shared by the list, the export and the training data; every
    one given must hold (they combine with AND)."""

    q: str | None = None
    customer: str | None = None
    customer_id: str | None = None  # the older exact-id filter, kept working
    date_from: date | None = None
    date_to: date | None = None
    intent: str | None = None
    flags: tuple[Flag, ...] = ()
    tags: tuple[str, ...] = ()
    reviewed: bool | None = None
    words: tuple[str, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "words", tuple((self.q or "").split()[:10]))

    def describe(self) -> str:
        """The filters as the audit log shows them (what was exported, not the rows)."""
        parts = [
            f"{k}={v}"
            for k, v in (
                ("q", self.q),
                ("customer", self.customer),
                ("customer_id", self.customer_id),
                ("from", self.date_from),
                ("to", self.date_to),
                ("intent", self.intent),
                ("flag", ",".join(self.flags)),
                ("tag", ",".join(self.tags)),
                ("reviewed", self.reviewed),
            )
            if v not in (None, "")
        ]
        return " ".join(parts) or "all"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TagIn(_Body):
    tag: str = Field(pattern=TAG_PATTERN, description="lower-case, 1-40 of a-z 0-9 _ -")


class NoteIn(_Body):
    text: str = Field(min_length=1, max_length=2000)


class ReviewIn(_Body):
    reviewed: bool = Field(strict=True)


class LabelIn(_Body):
    intent: str = Field(pattern=INTENT_PATTERN)


class SessionRow(BaseModel):
    session_id: str
    customer_id: str | None
    customer_username: str | None
    customer_name: str | None
    started_at: datetime
    last_at: datetime
    turns: int
    flags: list[Flag]
    tags: list[str]
    reviewed: bool
    rating: int | None


class SessionPage(BaseModel):
    data: list[SessionRow]
    next_cursor: str | None


class Feedback(BaseModel):
    seq: int
    value: Literal["up", "down"]
    comment: str | None
    at: datetime


class Rating(BaseModel):
    score: int
    comment: str | None
    at: datetime | None


class Note(BaseModel):
    id: int
    session_id: str
    staff: str
    text: str
    created_at: datetime


class TurnOut(BaseModel):
    turn_id: int
    client_msg_id: str
    kind: str  # bot (a turn the bot answered) | to_agent | agent | handoff
    customer_id: str | None
    user_text: str
    replies: list[dict[str, Any]]
    intent: str | None
    confidence: float | None
    label: str | None  # the intent staff say is right
    feedback: list[Feedback]  # the customer's, on this turn's replies
    entities: list[dict[str, Any]]
    actions: list[str]
    fallback: bool
    handoff: bool
    failed: bool
    latency_ms: int
    created_at: datetime


class TranscriptOut(BaseModel):
    session_id: str
    customer_id: str | None
    customer_username: str | None
    customer_name: str | None
    tags: list[str]
    reviewed: bool
    rating: Rating | None
    notes: list[Note]
    data: list[TurnOut]


class Tags(BaseModel):
    session_id: str
    tags: list[str]


class Reviewed(BaseModel):
    session_id: str
    reviewed: bool


class Labelled(BaseModel):
    turn_id: int
    intent: str


class FeedbackCounts(BaseModel):
    up: int
    down: int


class RatingStats(BaseModel):
    count: int
    mean: float | None


class IntentCount(BaseModel):
    intent: str
    count: int


class DayCount(BaseModel):
    date: date
    conversations: int
    turns: int


class Stats(BaseModel):
    conversations: int
    turns: int
    fallback_rate: float
    handoffs: int
    feedback: FeedbackCounts
    ratings: RatingStats
    top_intents: list[IntentCount]
    by_day: list[DayCount]


class AuditRow(BaseModel):
    at: datetime
    staff: str
    action: str
    target: str


class AuditPage(BaseModel):
    data: list[AuditRow]


class Erased(BaseModel):
    erased_sessions: int
