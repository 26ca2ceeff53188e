from __future__ import annotations

from fastapi import APIRouter

from core_banking.accounts import service
from core_banking.accounts.schemas import AccountList, AccountRead
from core_banking.db import AsyncSessionDep
from core_banking.security import CurrentCustomer

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])


@router.get("", response_model=AccountList)
async def list_accounts(customer: CurrentCustomer, session: AsyncSessionDep) -> AccountList:
    accounts = await service.list_accounts(session, customer)
    return AccountList(data=[AccountRead.model_validate(a) for a in accounts])
