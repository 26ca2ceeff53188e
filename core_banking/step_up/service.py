"""Enrolment of a TOTP authenticator app: enrol (pending), prove it with a first code
(active). An active app is never replaced through the API: whoever holds a stolen session
could otherwise enrol their own app and confirm transfers with it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyotp
from sqlalchemy.ext.asyncio import AsyncSession

from core_banking.models import StepUpFactor, StepUpFactorStatus
from core_banking.models.base import utcnow
from core_banking.problems import InvalidConfirmationCode, NotFound, StepUpAlreadyEnrolled
from core_banking.security import Principal
from core_banking.settings import Settings
from core_banking.step_up import crypto, methods
from core_banking.step_up.methods import TotpMethod, Verdict, matching_step
from core_banking.step_up.repository import StepUpRepository

TOTP = TotpMethod.name


async def list_factors(session: AsyncSession, customer: Principal) -> Sequence[StepUpFactor]:
    return await StepUpRepository(session).factors(customer.id)


async def enrol_totp(
    session: AsyncSession, customer: Principal, settings: Settings
) -> dict[str, Any]:
    """A new secret, pending until `activate_totp`. Enrolling again before that replaces
    the pending secret (a QR code scanned on a lost phone is never activated)."""
    repository = StepUpRepository(session)
    factor = await repository.lock_factor(customer.id, TOTP)
    if factor is not None and factor.status == StepUpFactorStatus.active.value:
        raise StepUpAlreadyEnrolled("Ask the bank to reset your authenticator app")
    secret = pyotp.random_base32()  # 160 bits, as RFC 4226 recommends
    if factor is None:
        factor = StepUpFactor(customer_id=customer.id, method=TOTP, created_at=utcnow())
        session.add(factor)
    factor.status = StepUpFactorStatus.pending.value
    factor.secret_encrypted = crypto.encrypt(settings, secret)
    factor.last_used_step = None
    await session.flush()
    username = await repository.username(customer.id) or customer.id
    uri = pyotp.TOTP(secret).provisioning_uri(
        name=username, issuer_name=settings.step_up_totp_issuer
    )
    return {"method": TOTP, "status": factor.status, "otpauth_uri": uri, "secret": secret}


async def activate_totp(
    session: AsyncSession, customer: Principal, code: str, settings: Settings
) -> StepUpFactor:
    factor = await StepUpRepository(session).lock_factor(customer.id, TOTP)
    if factor is None:
        raise NotFound("No authenticator app is enrolled")
    if factor.status == StepUpFactorStatus.active.value:
        return factor  # activating twice changes nothing
    secret = crypto.decrypt(settings, factor.secret_encrypted)
    step = matching_step(secret, code, factor.last_used_step, methods.now())
    if isinstance(step, Verdict):
        raise InvalidConfirmationCode("That is not the code the app shows now")
    factor.status = StepUpFactorStatus.active.value
    factor.last_used_step = step  # the activation code cannot confirm a transfer too
    factor.activated_at = utcnow()
    await session.flush()
    return factor
