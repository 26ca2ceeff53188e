from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from core_banking.db import AsyncSessionDep
from core_banking.idempotency import (
    Claim,
    IdempotencyKey,
    Outcome,
    request_hash,
    run_idempotent,
)
from core_banking.pagination import Cursor, Limit, decode_cursor, encode_cursor
from core_banking.problems import NotFound, Problem
from core_banking.security import CurrentCustomer, SettingsDep, client_ip
from core_banking.transactions import Transactions
from core_banking.transfers import confirmation, service
from core_banking.transfers.repository import TransferRepository
from core_banking.transfers.schemas import (
    ConfirmTransfer,
    DailyLimit,
    TransferCreate,
    TransferCreated,
    TransferList,
    TransferRead,
)
from core_banking.transfers.views import render

router = APIRouter(prefix="/v1/transfers", tags=["transfers"])


@router.post("", status_code=201, response_model=TransferCreated)
async def create_transfer(
    body: TransferCreate,
    request: Request,
    customer: CurrentCustomer,
    settings: SettingsDep,
    transactions: Transactions,
    idempotency_key: IdempotencyKey,
) -> JSONResponse:
    fingerprint = request_hash("POST", "/v1/transfers", body.model_dump(mode="json"))
    ip = client_ip(request)

    async def work(session: AsyncSession) -> Outcome:
        async def create(claim: Claim) -> Outcome:
            shown, stored = await service.create(
                session,
                customer,
                body,
                settings,
                idempotency_key=idempotency_key,
                client_ip=ip,
                claim=claim,
            )
            return Outcome(201, shown, stored)

        return await run_idempotent(
            session,
            customer_id=customer.id,
            key=idempotency_key,
            fingerprint=fingerprint,
            ttl_hours=settings.idempotency_ttl_hours,
            work=create,
            lock_customer=True,  # a transfer's first lock (transfers.service)
        )

    outcome = await transactions.run(work)
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    return JSONResponse(outcome.body, status_code=outcome.status, headers=headers)


@router.get("", response_model=TransferList)
async def list_transfers(
    customer: CurrentCustomer, session: AsyncSessionDep, limit: Limit = 20, cursor: Cursor = None
) -> dict[str, Any]:
    after = decode_cursor(cursor) if cursor else None
    rows = await TransferRepository(session).page(customer.id, limit + 1, after)
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        next_cursor = encode_cursor(page[-1].created_at, page[-1].id)
    return {"data": [await render(session, t) for t in page], "next_cursor": next_cursor}


@router.get("/daily-limit", response_model=DailyLimit)
async def daily_limit(
    customer: CurrentCustomer, session: AsyncSessionDep, settings: SettingsDep
) -> dict[str, Any]:
    """What the customer may still send to other people today (before `/{transfer_id}`,
    which would take "daily-limit" for an id)."""
    return await service.daily_limit(session, customer, settings)


@router.get("/{transfer_id}", response_model=TransferRead)
async def get_transfer(
    transfer_id: str, customer: CurrentCustomer, session: AsyncSessionDep
) -> dict[str, Any]:
    transfer = await TransferRepository(session).get_owned(customer.id, transfer_id)
    if transfer is None:
        raise NotFound("No such transfer")
    return await render(session, transfer)


@router.post("/{transfer_id}/confirm", response_model=TransferRead)
async def confirm_transfer(
    transfer_id: str,
    body: ConfirmTransfer,
    request: Request,
    customer: CurrentCustomer,
    settings: SettingsDep,
    transactions: Transactions,
) -> dict[str, Any]:
    ip = client_ip(request)

    async def work(session: AsyncSession) -> dict[str, Any] | Problem:
        return await confirmation.confirm(session, customer, transfer_id, body.code, settings, ip)

    result = await transactions.run(work)
    if isinstance(result, Problem):
        raise result  # after commit: the failed attempt counts
    return result


@router.post("/{transfer_id}/cancel", response_model=TransferRead)
async def cancel_transfer(
    transfer_id: str, request: Request, customer: CurrentCustomer, transactions: Transactions
) -> dict[str, Any]:
    ip = client_ip(request)

    async def work(session: AsyncSession) -> dict[str, Any]:
        return await confirmation.cancel(session, customer, transfer_id, ip)

    return await transactions.run(work)
