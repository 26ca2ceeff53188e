from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, computed_field


class CardRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    account_id: str
    brand: str
    kind: str
    last4: str
    status: str  # active, frozen, cancelled, lost, stolen
    expiry_month: int
    expiry_year: int
    replaced_by_id: str | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def masked_number(self) -> str:
        return f"**** **** **** {self.last4}"


class CardList(BaseModel):
    data: list[CardRead]


class ReportLost(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Literal["lost", "stolen"]


class ReportLostResult(BaseModel):
    reported: CardRead
    replacement: CardRead
