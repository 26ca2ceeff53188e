from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from core_banking.db import AsyncSessionDep
from core_banking.models import StepUpFactor
from core_banking.security import CurrentCustomer, CustomerInPerson, SettingsDep
from core_banking.step_up import service
from core_banking.step_up.schemas import (
    StepUpCode,
    StepUpFactorList,
    StepUpFactorRead,
    TotpEnrolment,
)
from core_banking.transactions import Transactions

router = APIRouter(prefix="/v1/step-up", tags=["step-up"])


@router.get("", response_model=StepUpFactorList)
async def list_factors(customer: CurrentCustomer, session: AsyncSessionDep) -> dict[str, Any]:
    factors = await service.list_factors(session, customer)
    return {"data": [StepUpFactorRead.model_validate(f) for f in factors]}


@router.post("/totp", status_code=201, response_model=TotpEnrolment)
async def enrol_totp(
    customer: CustomerInPerson, settings: SettingsDep, transactions: Transactions
) -> dict[str, Any]:
    async def work(session: AsyncSession) -> dict[str, Any]:
        return await service.enrol_totp(session, customer, settings)

    return await transactions.run(work)


@router.post("/totp/activate", response_model=StepUpFactorRead)
async def activate_totp(
    body: StepUpCode,
    customer: CustomerInPerson,
    settings: SettingsDep,
    transactions: Transactions,
) -> StepUpFactor:
    async def work(session: AsyncSession) -> StepUpFactor:
        return await service.activate_totp(session, customer, body.code, settings)

    return await transactions.run(work)
