from __future__ import annotations

from datetime import datetime

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


class Counterparty(BaseModel):
    name: str | None
    number: str | None


class TransactionRead(BaseModel):
    id: str  # the ledger entry
    journal_id: str
    booked_at: datetime
    kind: str  # journal kind: transfer, own_transfer, card_payment, incoming_payment, ...
    amount_minor: int  # signed for this account: negative = money out
    currency: str
    balance_after_minor: int
    description: str
    counterparty: Counterparty


class TransactionList(BaseModel):
    data: list[TransactionRead]
    next_cursor: str | None
