"""Request and response bodies of the staff console API."""

from __future__ import annotations

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
