"""Gift cards after Square's Gift Cards API: activate (buy), redeem, block, activities.

Money: buying moves it from the customer's account to the bank's gift_card_liability
account; redeeming moves it back out to the redeemer's account. The card row is locked
FOR UPDATE while a redemption checks and reduces its balance (the hold), and the ledger
posting plus the balance change commit together (the capture), so two racing
redemptions can never take a card below zero.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core_banking import audit
from core_banking.gift_cards import codes
from core_banking.gift_cards.schemas import GiftCardBalance, GiftCardPurchase, GiftCardRead
from core_banking.ledger.repository import LedgerRepository
from core_banking.ledger.service import Leg, post_journal
from core_banking.models import Account, GiftCard, GiftCardActivity, GiftCardStatus
from core_banking.models.base import utcnow
from core_banking.problems import (
    CurrencyMismatch,
    GiftCardBlocked,
    GiftCardExpired,
    GiftCardInsufficientBalance,
    InsufficientFunds,
    NotFound,
)
from core_banking.security import Principal
from core_banking.settings import Settings
from core_banking.system import accounts as system_accounts


class GiftCardCodeNotFound(NotFound):
    slug, title = "gift-card-not-found", "No gift card with this code"


def status_of(card: GiftCard) -> str:
    return "expired" if card.expires_at <= utcnow() else card.status


def read(card: GiftCard) -> dict[str, Any]:
    model = GiftCardRead(
        id=card.id,
        last4=card.last4,
        status=status_of(card),
        currency=card.currency,
        initial_minor=card.initial_minor,
        balance_minor=card.balance_minor,
        recipient_name=card.recipient_name,
        message=card.message,
        expires_at=card.expires_at,
        created_at=card.created_at,
    )
    return model.model_dump(mode="json")


def balance_view(card: GiftCard) -> GiftCardBalance:
    return GiftCardBalance(
        last4=card.last4,
        status=status_of(card),
        balance_minor=card.balance_minor,
        currency=card.currency,
        expires_at=card.expires_at,
    )


async def _owned_account(session: AsyncSession, customer_id: str, account_id: str) -> Account:
    account = await session.scalar(
        select(Account).where(Account.id == account_id, Account.customer_id == customer_id)
    )
    if account is None:
        raise NotFound("No such account")
    return account


def _activity(
    card: GiftCard, kind: str, customer_id: str, amount: int = 0, journal: str | None = None
) -> GiftCardActivity:
    return GiftCardActivity(
        gift_card_id=card.id,
        type=kind,
        amount_minor=amount,
        balance_after_minor=card.balance_minor,
        customer_id=customer_id,
        journal_id=journal,
    )


async def purchase(
    session: AsyncSession,
    customer: Principal,
    body: GiftCardPurchase,
    settings: Settings,
    *,
    idempotency_key: str,
    client_ip: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Returns (body with the code, body stored for replays without it)."""
    source = await _owned_account(session, customer.id, body.from_account_id)
    if source.currency != body.currency:
        raise CurrencyMismatch(f"the account is in {source.currency}")
    liability = await system_accounts.get_or_create(
        session, system_accounts.GIFT_CARD_LIABILITY, body.currency
    )
    await LedgerRepository(session).lock_accounts([source.id, liability.id])
    if source.available_minor < body.amount_minor:
        raise InsufficientFunds(f"available {source.available_minor} < {body.amount_minor}")

    code = codes.generate()
    normalised = codes.normalise(code)
    assert normalised is not None
    card = GiftCard(
        purchaser_id=customer.id,
        code_hash=codes.code_hash(settings.gift_card_code_key, normalised),
        last4=normalised[-4:],
        currency=body.currency,
        initial_minor=body.amount_minor,
        balance_minor=body.amount_minor,
        status=GiftCardStatus.active.value,
        recipient_name=body.recipient_name,
        message=body.message,
        expires_at=utcnow() + timedelta(days=settings.gift_card_validity_days),
    )
    session.add(card)
    await session.flush()
    journal = await post_journal(
        session,
        kind="gift_card_purchase",
        description=f"Gift card ...{card.last4}",
        legs=[
            Leg(source.id, -body.amount_minor, body.currency, "Gift card", None),
            Leg(liability.id, body.amount_minor, body.currency, None, source.number),
        ],
    )
    session.add(_activity(card, "activate", customer.id, body.amount_minor, journal.id))
    await audit.record(
        session,
        customer_id=customer.id,
        action="gift_card.purchase",
        resource_type="gift_card",
        resource_id=card.id,
        idempotency_key=idempotency_key,
        journal_id=journal.id,
        amount_minor=body.amount_minor,
        currency=body.currency,
        client_ip=client_ip,
    )
    stored = {**read(card), "code": None}
    return {**stored, "code": code}, stored


async def find_by_code(
    session: AsyncSession, settings: Settings, code: str, *, lock: bool
) -> GiftCard:
    normalised = codes.normalise(code)
    if normalised is None:
        raise GiftCardCodeNotFound()
    stmt = select(GiftCard).where(
        GiftCard.code_hash == codes.code_hash(settings.gift_card_code_key, normalised)
    )
    if lock:
        stmt = stmt.with_for_update(key_share=True).execution_options(populate_existing=True)
    card = await session.scalar(stmt)
    if card is None:
        raise GiftCardCodeNotFound()
    return card


async def redeem(
    session: AsyncSession,
    customer: Principal,
    card: GiftCard,
    to_account_id: str,
    amount_minor: int | None,
    *,
    idempotency_key: str,
    client_ip: str,
) -> dict[str, Any]:
    """`card` must have been loaded with lock=True in this transaction (the hold)."""
    target = await _owned_account(session, customer.id, to_account_id)
    if card.status == GiftCardStatus.blocked.value:
        raise GiftCardBlocked()
    if card.expires_at <= utcnow():
        raise GiftCardExpired()
    if target.currency != card.currency:
        raise CurrencyMismatch(f"the gift card is in {card.currency}")
    amount = card.balance_minor if amount_minor is None else amount_minor
    if amount <= 0 or amount > card.balance_minor:
        raise GiftCardInsufficientBalance(extra={"balance_minor": card.balance_minor})
    liability = await system_accounts.get_or_create(
        session, system_accounts.GIFT_CARD_LIABILITY, card.currency
    )
    journal = await post_journal(
        session,
        kind="gift_card_redeem",
        description=f"Gift card ...{card.last4} redeemed",
        legs=[
            Leg(liability.id, -amount, card.currency, None, target.number),
            Leg(target.id, amount, card.currency, f"Gift card ...{card.last4}", None),
        ],
    )
    card.balance_minor -= amount  # the capture
    session.add(_activity(card, "redeem", customer.id, -amount, journal.id))
    await session.flush()
    await audit.record(
        session,
        customer_id=customer.id,
        action="gift_card.redeem",
        resource_type="gift_card",
        resource_id=card.id,
        idempotency_key=idempotency_key,
        journal_id=journal.id,
        amount_minor=amount,
        currency=card.currency,
        client_ip=client_ip,
    )
    return {
        "redeemed_minor": amount,
        "currency": card.currency,
        "to_account_id": target.id,
        "journal_id": journal.id,
        "gift_card": balance_view(card).model_dump(mode="json"),
    }


async def owned_card(
    session: AsyncSession, customer_id: str, card_id: str, *, lock: bool = False
) -> GiftCard:
    stmt = select(GiftCard).where(GiftCard.id == card_id, GiftCard.purchaser_id == customer_id)
    if lock:
        stmt = stmt.with_for_update(key_share=True)
    card = await session.scalar(stmt)
    if card is None:
        raise NotFound("No such gift card")
    return card


async def set_blocked(
    session: AsyncSession, customer: Principal, card_id: str, blocked: bool, client_ip: str
) -> dict[str, Any]:
    card = await owned_card(session, customer.id, card_id, lock=True)
    want = GiftCardStatus.blocked.value if blocked else GiftCardStatus.active.value
    if card.status != want:  # repeating a block/unblock changes nothing
        card.status = want
        kind = "block" if blocked else "unblock"
        session.add(_activity(card, kind, customer.id))
        await session.flush()
        await audit.record(
            session,
            customer_id=customer.id,
            action=f"gift_card.{kind}",
            resource_type="gift_card",
            resource_id=card.id,
            client_ip=client_ip,
        )
    return read(card)
