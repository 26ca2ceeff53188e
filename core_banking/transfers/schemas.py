from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

CURRENCY_PATTERN = r"^[A-Z]{3}$"
MAX_AMOUNT_MINOR = 10**13  # far above any limit; keeps sums inside BIGINT


class TransferCreate(BaseModel):
    """Either `to_account_number` (an IBAN) or `payee_id` (a saved payee) names the
    destination; exactly one of them."""

    model_config = ConfigDict(extra="forbid")

    from_account_id: str = Field(min_length=1, max_length=36)
    to_account_number: str | None = Field(default=None, min_length=1, max_length=64)
    payee_id: str | None = Field(default=None, min_length=1, max_length=36)
    # StrictInt: 12.5 or "1250" are refused rather than coerced; money is never a float.
    amount_minor: StrictInt = Field(gt=0, le=MAX_AMOUNT_MINOR)
    currency: str = Field(pattern=CURRENCY_PATTERN)
    reference: str = Field(default="", max_length=140)

    @model_validator(mode="after")
    def _one_destination(self) -> TransferCreate:
        if (self.to_account_number is None) == (self.payee_id is None):
            raise ValueError("give exactly one of to_account_number and payee_id")
        return self


class ConfirmTransfer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[0-9]{6}$")  # the current code of the authenticator app


class AccountRef(BaseModel):
    id: str | None  # null for accounts at other banks
    number: str
    name: str | None  # other customers' names are masked ("Anna M.")


class TransferRead(BaseModel):
    id: str
    status: str
    kind: str
    amount_minor: int
    currency: str
    reference: str
    from_account: AccountRef
    to_account: AccountRef
    created_at: datetime
    completed_at: datetime | None
    risk_reasons: list[str]


class TransferCreated(TransferRead):
    pass


class DailyLimit(BaseModel):
    """Transfers to other people's accounts per UTC day (own-account moves are not
    limited), in minor units of the accounts' currency."""

    limit_minor: int
    used_minor: int  # completed transfers and active holds of today
    remaining_minor: int
    resets_at: datetime


class TransferList(BaseModel):
    data: list[TransferRead]
    next_cursor: str | None
