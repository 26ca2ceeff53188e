from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class TotpEnrolment(BaseModel):
    method: str
    status: str
    # otpauth://totp/<issuer>:<username>?secret=...&issuer=... : shown once, as a QR code.
    otpauth_uri: str
    secret: str  # the same secret as text, for apps that cannot scan


class StepUpCode(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[0-9]{6}$")


class StepUpFactorRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    method: str
    status: str
    created_at: datetime
    activated_at: datetime | None


class StepUpFactorList(BaseModel):
    data: list[StepUpFactorRead]
