from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Annotated

from fastapi import APIRouter, Query

from core_banking.accounts import service
from core_banking.accounts.repository import HistoryFilter
from core_banking.accounts.schemas import AccountList, AccountRead, TransactionList
from core_banking.db import AsyncSessionDep
from core_banking.pagination import Cursor, Limit, decode_cursor
from core_banking.problems import ValidationFailed
from core_banking.security import CurrentCustomer
from core_banking.transfers.schemas import MAX_AMOUNT_MINOR

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])
# Bounded: an integer past BIGINT would reach the database and fail there (a 500).
Amount = Annotated[int | None, Query(ge=0, le=MAX_AMOUNT_MINOR)]


@router.get("", response_model=AccountList)
async def list_accounts(customer: CurrentCustomer, session: AsyncSessionDep) -> AccountList:
    accounts = await service.list_accounts(session, customer)
    return AccountList(data=[AccountRead.model_validate(a) for a in accounts])


@router.get("/{account_id}", response_model=AccountRead)
async def get_account(
    account_id: str, customer: CurrentCustomer, session: AsyncSessionDep
) -> AccountRead:
    return AccountRead.model_validate(await service.get_account(session, customer, account_id))


def _bound(value: str | None, name: str, *, end: bool) -> datetime | None:
    """A date means the whole day (`to` inclusive of it); a datetime is exact (`to`
    exclusive). Naive datetimes are UTC."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value) + timedelta(days=1 if end else 0)
            return datetime.combine(day, time(0), tzinfo=timezone.utc)
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValidationFailed(f"{name} must be an ISO 8601 date or date-time") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@router.get("/{account_id}/transactions", response_model=TransactionList)
async def list_transactions(
    account_id: str,
    customer: CurrentCustomer,
    session: AsyncSessionDep,
    limit: Limit = 20,
    cursor: Cursor = None,
    booked_from: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    booked_to: Annotated[str | None, Query(alias="to", max_length=40)] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    min_amount_minor: Amount = None,
    max_amount_minor: Amount = None,
) -> TransactionList:
    where = HistoryFilter(
        booked_from=_bound(booked_from, "from", end=False),
        booked_to=_bound(booked_to, "to", end=True),
        text=q.strip() if q and q.strip() else None,
        min_amount_minor=min_amount_minor,
        max_amount_minor=max_amount_minor,
    )
    after = decode_cursor(cursor) if cursor else None
    return await service.transactions(session, customer, account_id, limit, after, where)
