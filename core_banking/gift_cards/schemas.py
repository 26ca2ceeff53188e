from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from core_banking.transfers.schemas import CURRENCY_PATTERN, MAX_AMOUNT_MINOR


class GiftCardPurchase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_account_id: str = Field(min_length=1, max_length=36)
    amount_minor: StrictInt = Field(gt=0, le=MAX_AMOUNT_MINOR)
    currency: str = Field(pattern=CURRENCY_PATTERN)
    recipient_name: str | None = Field(default=None, max_length=200)
    message: str | None = Field(default=None, max_length=500)


class CodeLookup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=64)


class GuestCodeLookup(CodeLookup):
    """A guest's lookup relayed by the action server: `requester` is the chat session."""

    requester: str = Field(min_length=1, max_length=128)


class GiftCardRedeem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=64)
    to_account_id: str = Field(min_length=1, max_length=36)
    amount_minor: StrictInt | None = Field(default=None, gt=0, le=MAX_AMOUNT_MINOR)


class GiftCardRead(BaseModel):
    """The purchaser's view of a card (the code itself is never shown again)."""

    id: str
    last4: str
    status: str  # active, blocked, expired
    currency: str
    initial_minor: int
    balance_minor: int
    recipient_name: str | None
    message: str | None
    expires_at: datetime
    created_at: datetime


class GiftCardList(BaseModel):
    data: list[GiftCardRead]


class GiftCardCreated(GiftCardRead):
    code: str | None  # only in the response that created the card; null in replays


class GiftCardBalance(BaseModel):
    last4: str
    status: str
    balance_minor: int
    currency: str
    expires_at: datetime


class GiftCardRedemption(BaseModel):
    redeemed_minor: int
    currency: str
    to_account_id: str
    journal_id: str
    gift_card: GiftCardBalance


class ActivityRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    type: str  # activate, redeem, block, unblock
    amount_minor: int
    balance_after_minor: int
    created_at: datetime


class ActivityList(BaseModel):
    data: list[ActivityRead]
