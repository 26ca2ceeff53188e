"""Step-up methods: how a customer proves, for one held transfer, that it is them.

`StepUpMethod` is the seam for more methods: an SMS or push method would send its
challenge in `challenge` and check the answer in `verify`. Today there is one: TOTP from
an authenticator app (RFC 6238), which needs nothing sent.
"""

from __future__ import annotations

import base64
import enum
import hmac
import time
from typing import Protocol

import pyotp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core_banking.models import StepUpFactor, StepUpFactorStatus, Transfer
from core_banking.settings import Settings
from core_banking.step_up import crypto

# ±1 step of 30 s: the clock drift RFC 6238 section 6 suggests tolerating.
DRIFT_STEPS = 1


def now() -> float:
    """The clock TOTP codes are checked against (tests freeze it)."""
    return time.time()


class Verdict(enum.Enum):
    accepted = "accepted"
    wrong = "wrong"
    replayed = "replayed"  # right code, but its time step was already used
    not_enrolled = "not_enrolled"  # the customer has no (active) factor of this method


class StepUpMethod(Protocol):
    name: str

    async def enrolled(self, session: AsyncSession, customer_id: str) -> bool: ...

    async def challenge(self, session: AsyncSession, transfer: Transfer) -> None:
        """Start the step-up for `transfer` (send an SMS, a push...)."""

    async def verify(
        self, session: AsyncSession, customer_id: str, code: str, settings: Settings
    ) -> Verdict: ...


class _Totp(pyotp.TOTP):
    """pyotp's TOTP without its 112-bit minimum on *stored* secrets: the contract's
    published demo secret has 80 bits (seeded outside production only). Secrets this
    service generates have 160 bits (`pyotp.random_base32()`, RFC 4226's recommendation)."""

    def byte_secret(self) -> bytes:
        padded = self.secret + "=" * (-len(self.secret) % 8)
        return base64.b32decode(padded, casefold=True)


def totp(secret: str) -> pyotp.TOTP:
    """RFC 6238 with the contract's parameters: SHA-1, 6 digits, 30 s steps."""
    return _Totp(secret)


def matching_step(secret: str, code: str, last_used_step: int | None, now: float) -> Verdict | int:
    """The time step whose code is `code` (within the drift window), else a verdict."""
    totp = _Totp(secret)
    current = int(now) // totp.interval
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            if last_used_step is not None and step <= last_used_step:
                return Verdict.replayed
            return step
    return Verdict.wrong


class TotpMethod:
    name = "totp"

    async def enrolled(self, session: AsyncSession, customer_id: str) -> bool:
        return await self._factor(session, customer_id, lock=False) is not None

    async def challenge(self, session: AsyncSession, transfer: Transfer) -> None:
        return None  # the authenticator app shows the code; nothing to send

    async def verify(
        self, session: AsyncSession, customer_id: str, code: str, settings: Settings
    ) -> Verdict:
        # Locked: two confirmations racing with one code cannot both use it.
        factor = await self._factor(session, customer_id, lock=True)
        if factor is None:
            return Verdict.not_enrolled
        secret = crypto.decrypt(settings, factor.secret_encrypted)
        result = matching_step(secret, code, factor.last_used_step, now())
        if isinstance(result, Verdict):
            return result
        factor.last_used_step = result
        await session.flush()
        return Verdict.accepted

    @staticmethod
    async def _factor(session: AsyncSession, customer_id: str, lock: bool) -> StepUpFactor | None:
        stmt = select(StepUpFactor).where(
            StepUpFactor.customer_id == customer_id,
            StepUpFactor.method == "totp",
            StepUpFactor.status == StepUpFactorStatus.active.value,
        )
        if lock:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        return await session.scalar(stmt)


# In order of preference; a held transfer uses the first one the customer has.
METHODS: tuple[StepUpMethod, ...] = (TotpMethod(),)


async def method_for(session: AsyncSession, customer_id: str) -> StepUpMethod | None:
    for method in METHODS:
        if await method.enrolled(session, customer_id):
            return method
    return None


async def verify(
    session: AsyncSession, customer_id: str, code: str, settings: Settings
) -> tuple[Verdict, str | None]:
    """The verdict of the first method the customer has, and that method's name."""
    for method in METHODS:
        verdict = await method.verify(session, customer_id, code, settings)
        if verdict is not Verdict.not_enrolled:
            return verdict, method.name
    return Verdict.not_enrolled, None
