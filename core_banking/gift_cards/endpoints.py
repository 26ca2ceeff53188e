from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core_banking.db import AsyncSessionDep
from core_banking.gift_cards import lockout, service
from core_banking.gift_cards.schemas import (
    ActivityList,
    ActivityRead,
    CodeLookup,
    GiftCardBalance,
    GiftCardCreated,
    GiftCardList,
    GiftCardPurchase,
    GiftCardRead,
    GiftCardRedeem,
    GiftCardRedemption,
    GuestCodeLookup,
)
from core_banking.gift_cards.service import GiftCardCodeNotFound
from core_banking.idempotency import IdempotencyKey, Outcome, request_hash, run_idempotent
from core_banking.models import GiftCard, GiftCardActivity
from core_banking.security import (
    CurrentCustomer,
    Principal,
    ServiceCaller,
    SettingsDep,
    client_ip,
)
from core_banking.settings import Settings
from core_banking.transactions import Transactions

router = APIRouter(prefix="/v1/gift-cards", tags=["gift cards"])


def _response(outcome: Outcome) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    return JSONResponse(outcome.body, status_code=outcome.status, headers=headers)


async def _idempotent(
    transactions: Transactions,
    customer: Principal,
    settings: Settings,
    key: str,
    fingerprint: str,
    work: Any,
) -> Outcome:
    async def in_transaction(session: AsyncSession) -> Outcome:
        return await run_idempotent(
            session,
            customer_id=customer.id,
            key=key,
            fingerprint=fingerprint,
            ttl_hours=settings.idempotency_ttl_hours,
            work=lambda _claim: work(session),
        )

    return await transactions.run(in_transaction)


@router.post("", status_code=201, response_model=GiftCardCreated)
async def buy_gift_card(
    body: GiftCardPurchase,
    request: Request,
    customer: CurrentCustomer,
    settings: SettingsDep,
    transactions: Transactions,
    idempotency_key: IdempotencyKey,
) -> JSONResponse:
    ip = client_ip(request)

    async def work(session: AsyncSession) -> Outcome:
        shown, stored = await service.purchase(
            session, customer, body, settings, idempotency_key=idempotency_key, client_ip=ip
        )
        return Outcome(201, shown, stored)

    fingerprint = request_hash("POST", "/v1/gift-cards", body.model_dump(mode="json"))
    return _response(
        await _idempotent(transactions, customer, settings, idempotency_key, fingerprint, work)
    )


@router.post("/balance", response_model=GiftCardBalance)
async def gift_card_balance(
    body: CodeLookup,
    request: Request,
    customer: CurrentCustomer,
    settings: SettingsDep,
    session: AsyncSessionDep,
) -> GiftCardBalance:
    return await _balance(request, session, settings, body.code, customer.id, client_ip(request))


# Guests (not logged in) may check a card's balance in the chat. The action server asks
# on their behalf with the service token, naming the chat session as the requester;
# failed lookups are counted per requester, as they are per customer above.
internal_router = APIRouter(
    prefix="/internal/gift-cards", tags=["internal"], dependencies=[ServiceCaller]
)


@internal_router.post("/balance", response_model=GiftCardBalance)
async def guest_gift_card_balance(
    body: GuestCodeLookup,
    request: Request,
    settings: SettingsDep,
    session: AsyncSessionDep,
) -> GiftCardBalance:
    requester = "guest:" + hashlib.sha256(body.requester.encode()).hexdigest()[:24]
    return await _balance(request, session, settings, body.code, requester, requester)


async def _balance(
    request: Request, session: AsyncSession, settings: Settings, code: str, who: str, ip: str
) -> GiftCardBalance:
    await lockout.ensure_not_locked(session, settings, who, ip)
    try:
        card = await service.find_by_code(session, settings, code, lock=False)
    except GiftCardCodeNotFound:
        await lockout.record_failure(request.app.state.sessionmaker, who, ip)
        raise
    return service.balance_view(card)


@router.post("/redeem", response_model=GiftCardRedemption)
async def redeem_gift_card(
    body: GiftCardRedeem,
    request: Request,
    customer: CurrentCustomer,
    settings: SettingsDep,
    transactions: Transactions,
    idempotency_key: IdempotencyKey,
) -> JSONResponse:
    ip = client_ip(request)

    async def work(tx: AsyncSession) -> Outcome:
        await lockout.ensure_not_locked(tx, settings, customer.id, ip)
        card = await service.find_by_code(tx, settings, body.code, lock=True)
        result = await service.redeem(
            tx,
            customer,
            card,
            body.to_account_id,
            body.amount_minor,
            idempotency_key=idempotency_key,
            client_ip=ip,
        )
        return Outcome(200, result, result)

    fingerprint = request_hash("POST", "/v1/gift-cards/redeem", body.model_dump(mode="json"))
    try:
        outcome = await _idempotent(
            transactions, customer, settings, idempotency_key, fingerprint, work
        )
    except GiftCardCodeNotFound:
        await lockout.record_failure(request.app.state.sessionmaker, customer.id, ip)
        raise
    return _response(outcome)


@router.get("", response_model=GiftCardList)
async def list_gift_cards(customer: CurrentCustomer, session: AsyncSessionDep) -> dict[str, Any]:
    """Cards this customer bought, newest first."""
    stmt = (
        select(GiftCard)
        .where(GiftCard.purchaser_id == customer.id)
        .order_by(GiftCard.created_at.desc(), GiftCard.id)
    )
    return {"data": [service.read(card) for card in await session.scalars(stmt)]}


@router.post("/{card_id}/block", response_model=GiftCardRead)
async def block(
    card_id: str, request: Request, customer: CurrentCustomer, session: AsyncSessionDep
) -> dict[str, Any]:
    return await service.set_blocked(session, customer, card_id, True, client_ip(request))


@router.post("/{card_id}/unblock", response_model=GiftCardRead)
async def unblock(
    card_id: str, request: Request, customer: CurrentCustomer, session: AsyncSessionDep
) -> dict[str, Any]:
    return await service.set_blocked(session, customer, card_id, False, client_ip(request))


@router.get("/{card_id}/activities", response_model=ActivityList)
async def activities(
    card_id: str, customer: CurrentCustomer, session: AsyncSessionDep
) -> ActivityList:
    card = await service.owned_card(session, customer.id, card_id)
    stmt = (
        select(GiftCardActivity)
        .where(GiftCardActivity.gift_card_id == card.id)
        .order_by(GiftCardActivity.created_at.desc(), GiftCardActivity.id)
    )
    rows = await session.scalars(stmt)
    return ActivityList(data=[ActivityRead.model_validate(a) for a in rows])
