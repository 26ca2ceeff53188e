"""Wire shapes of the /auth endpoints (CONTRACT.md, Authentication)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class TokenPair(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    refresh_token: str


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=512)


class Identity(BaseModel):
    """Who core_banking says the user is (response of /internal/auth/verify)."""

    subject: str
    username: str
    display_name: str
    roles: list[str]
