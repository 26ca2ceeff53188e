"""Card controls: freeze/unfreeze (reversible) and report lost/stolen (permanent)."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core_banking import audit
from core_banking.cards.schemas import CardList, CardRead, ReportLost, ReportLostResult
from core_banking.db import AsyncSessionDep
from core_banking.models import Card, CardStatus
from core_banking.models.base import utcnow
from core_banking.problems import InvalidState, NotFound
from core_banking.security import CurrentCustomer, client_ip

router = APIRouter(prefix="/v1/cards", tags=["cards"])
REPLACEMENT_VALIDITY_YEARS = 4


async def _owned_card(session: AsyncSession, customer_id: str, card_id: str) -> Card:
    stmt = (
        select(Card)
        .where(Card.id == card_id, Card.customer_id == customer_id)
        .with_for_update(key_share=True)
    )
    card = await session.scalar(stmt)
    if card is None:
        raise NotFound("No such card")
    return card


@router.get("", response_model=CardList)
async def list_cards(customer: CurrentCustomer, session: AsyncSessionDep) -> CardList:
    stmt = select(Card).where(Card.customer_id == customer.id).order_by(Card.created_at, Card.id)
    return CardList(data=[CardRead.model_validate(c) for c in await session.scalars(stmt)])


async def _set_status(
    session: AsyncSession, customer_id: str, card_id: str, want: CardStatus, ip: str
) -> CardRead:
    card = await _owned_card(session, customer_id, card_id)
    allowed_from = {CardStatus.frozen: CardStatus.active, CardStatus.active: CardStatus.frozen}
    if card.status != want.value:  # repeating a freeze/unfreeze is a no-op, not an error
        if card.status != allowed_from[want].value:
            raise InvalidState(f"a {card.status} card cannot be set to {want.value}")
        card.status = want.value
        await session.flush()
        await audit.record(
            session,
            customer_id=customer_id,
            action=f"card.{'freeze' if want == CardStatus.frozen else 'unfreeze'}",
            resource_type="card",
            resource_id=card.id,
            client_ip=ip,
        )
    return CardRead.model_validate(card)


@router.post("/{card_id}/freeze", response_model=CardRead)
async def freeze(
    card_id: str, request: Request, customer: CurrentCustomer, session: AsyncSessionDep
) -> CardRead:
    return await _set_status(session, customer.id, card_id, CardStatus.frozen, client_ip(request))


@router.post("/{card_id}/unfreeze", response_model=CardRead)
async def unfreeze(
    card_id: str, request: Request, customer: CurrentCustomer, session: AsyncSessionDep
) -> CardRead:
    return await _set_status(session, customer.id, card_id, CardStatus.active, client_ip(request))


@router.post("/{card_id}/report-lost", response_model=ReportLostResult)
async def report_lost(
    card_id: str,
    body: ReportLost,
    request: Request,
    customer: CurrentCustomer,
    session: AsyncSessionDep,
) -> ReportLostResult:
    card = await _owned_card(session, customer.id, card_id)
    if card.status not in (CardStatus.active.value, CardStatus.frozen.value):
        raise InvalidState(f"a {card.status} card cannot be reported")
    last4 = card.last4
    while last4 == card.last4:  # a replacement must be told apart from the old card
        last4 = f"{secrets.randbelow(10_000):04d}"
    replacement = Card(
        customer_id=card.customer_id,
        account_id=card.account_id,
        last4=last4,
        brand=card.brand,
        kind=card.kind,
        status=CardStatus.active.value,
        expiry_month=utcnow().month,
        expiry_year=utcnow().year + REPLACEMENT_VALIDITY_YEARS,
    )
    session.add(replacement)
    await session.flush()
    card.status = body.reason
    card.replaced_by_id = replacement.id
    await session.flush()
    await audit.record(
        session,
        customer_id=customer.id,
        action=f"card.report_{body.reason}",
        resource_type="card",
        resource_id=card.id,
        client_ip=client_ip(request),
        detail=f"replacement {replacement.id}",
    )
    return ReportLostResult(
        reported=CardRead.model_validate(card), replacement=CardRead.model_validate(replacement)
    )
