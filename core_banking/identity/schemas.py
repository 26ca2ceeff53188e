from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class VerifyCredentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    # Upper bound: argon2 would happily hash megabytes, which is a cheap DoS.
    password: str = Field(min_length=1, max_length=1024)
    # The customer's address as the gateway saw it (for the login throttle).
    client_ip: str | None = Field(default=None, min_length=1, max_length=64)


class VerifiedIdentity(BaseModel):
    subject: str
    username: str
    display_name: str
    roles: list[str]
