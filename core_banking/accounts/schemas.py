from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class AccountRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    number: str
    type: str
    currency: str
    balance_minor: int
    available_minor: int


class AccountList(BaseModel):
    data: list[AccountRead]
