from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class PayeeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    iban: str = Field(min_length=1, max_length=64)  # spaces and lower case are accepted


class PayeeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    iban: str  # electronic form, e.g. DE89370400440532013000
    created_at: datetime


class PayeeList(BaseModel):
    data: list[PayeeRead]
