"""Request and response bodies of the staff console API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Handoff(BaseModel):
    session_id: str
    state: str  # requested | accepted
    customer_id: str | None  # None for a guest
    customer_username: str | None = None  # once the transcript writer has seen a turn
    customer_name: str | None = None
    agent: str | None  # display name of the agent holding it
    agent_sub: str | None = None  # who holds it (the console compares with its own)
    requested_at: float | None = None  # epoch seconds, Redis's clock
    waiting_seconds: int | None = None  # since the customer asked for a person


class HandoffList(BaseModel):
    data: list[Handoff]


class AgentMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=2000)


class Posted(BaseModel):
    session_id: str
    seq: int
    state: str
