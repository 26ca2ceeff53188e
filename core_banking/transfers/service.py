"""Transfers: validation, limits, risk hold with a one-time code, and execution."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core_banking import audit
from core_banking.ledger.repository import LedgerRepository
from core_banking.ledger.service import Leg, post_journal
from core_banking.models import Account, Transfer, TransferKind, TransferStatus
from core_banking.models.base import new_id, utcnow
from core_banking.problems import (
    ConfirmationExpired,
    CurrencyMismatch,
    DailyLimitExceeded,
    InsufficientFunds,
    InvalidConfirmationCode,
    InvalidState,
    NotFound,
    Problem,
    SameAccount,
)
from core_banking.security import Principal
from core_banking.settings import Settings
from core_banking.system import accounts as system_accounts
from core_banking.transfers import destination, risk
from core_banking.transfers.repository import TransferRepository
from core_banking.transfers.schemas import TransferCreate
from core_banking.transfers.views import render

JOURNAL_KIND = {TransferKind.own.value: "own_transfer"}  # everything else: "transfer"


def _otp_hash(settings: Settings, transfer_id: str, code: str) -> str:
    # Keyed: a 6-digit code behind a plain hash would fall to 10^6 guesses offline.
    message = f"{transfer_id}:{code}".encode()
    return hmac.new(settings.confirmation_code_key.encode(), message, hashlib.sha256).hexdigest()


async def create(
    session: AsyncSession,
    customer: Principal,
    body: TransferCreate,
    settings: Settings,
    *,
    idempotency_key: str,
    client_ip: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Returns (body for this caller, body stored for replays).

    Round trips for a completed transfer (README "Execution"): lock the customer (and
    read the payer's name); fetch and lock both accounts in id order in one statement;
    today's total and the velocity count in one query (not for own transfers); then
    the journal, its entries, the balances, the transfer and the audit row.
    """
    repository = TransferRepository(session)
    requested = await destination.requested_number(
        session,
        customer_id=customer.id,
        to_account_number=body.to_account_number,
        payee_id=body.payee_id,
    )
    payer_name = await repository.lock_customer(customer.id)
    clearing_code = system_accounts.system_code(system_accounts.CLEARING, body.currency)
    rows = await repository.lock_transfer_accounts(
        customer.id,
        body.from_account_id,
        number=None if requested.external else requested.number,
        system_code=clearing_code if requested.external else None,
    )
    source = next(
        (a for a, _ in rows if a.id == body.from_account_id and a.customer_id == customer.id),
        None,
    )
    if source is None:
        raise NotFound("No such account")
    if body.currency != source.currency:
        raise CurrencyMismatch(f"the source account is in {source.currency}")
    clearing: Account | None = None
    if requested.external:
        clearing = next((a for a, _ in rows if a.system_code == clearing_code), None)
        if clearing is None:  # first payment in this currency: a row only we can see yet
            clearing = await system_accounts.get_or_create(
                session, system_accounts.CLEARING, body.currency
            )
    dest = destination.choose(requested, rows, customer_id=customer.id, clearing=clearing)
    if dest.account.id == source.id:
        raise SameAccount()
    if dest.account.currency != body.currency:
        raise CurrencyMismatch(f"the destination account is in {dest.account.currency}")

    reasons: list[str] = []
    if dest.kind != TransferKind.own:
        now = utcnow()
        day_start = datetime.combine(now.date(), time(0), tzinfo=timezone.utc)
        since = now - timedelta(seconds=settings.risk_velocity_window_seconds)
        spent, recent = await repository.recent_outgoing(customer.id, day_start, since)
        if spent + body.amount_minor > settings.daily_transfer_limit_minor:
            raise DailyLimitExceeded(
                extra={
                    "limit_minor": settings.daily_transfer_limit_minor,
                    "remaining_minor": max(0, settings.daily_transfer_limit_minor - spent),
                }
            )
        reasons = await risk.assess(
            repository,
            settings,
            customer_id=customer.id,
            to_number=dest.number,
            amount_minor=body.amount_minor,
            recent_count=recent,
        )

    transfer = Transfer(
        id=new_id(),
        customer_id=customer.id,
        from_account_id=source.id,
        to_account_id=dest.account.id,
        to_account_number=dest.number,
        to_name=dest.name,
        kind=dest.kind.value,
        amount_minor=body.amount_minor,
        currency=body.currency,
        reference=body.reference,
        risk_reasons=",".join(reasons),
        otp_attempts=0,
        created_at=utcnow(),
    )
    code: str | None = None
    if reasons:
        code = f"{secrets.randbelow(10**6):06d}"
        transfer.status = TransferStatus.requires_confirmation.value
        transfer.otp_hash = _otp_hash(settings, transfer.id, code)
        transfer.otp_expires_at = utcnow() + timedelta(
            seconds=settings.confirmation_code_ttl_seconds
        )
        # Production would send `code` by SMS here.
    else:
        # The journal first: the transfer row is inserted once, already completed.
        await _post(session, transfer, source, dest.account, payer_name)
    session.add(transfer)
    await session.flush()
    await audit.record(
        session,
        customer_id=customer.id,
        action=f"transfer.{transfer.status}",
        resource_type="transfer",
        resource_id=transfer.id,
        idempotency_key=idempotency_key,
        journal_id=transfer.journal_id,
        amount_minor=transfer.amount_minor,
        currency=transfer.currency,
        client_ip=client_ip,
        detail=transfer.risk_reasons,
    )
    stored = await render(session, transfer, known=(source.number, payer_name))
    shown = dict(stored)
    if code is not None and not settings.is_production:
        shown["debug_otp"] = code  # never stored: a replay does not reveal the code
    return shown, stored


async def _post(
    session: AsyncSession,
    transfer: Transfer,
    source: Account,
    target: Account,
    payer_name: str | None,
) -> None:
    """Move the money. `source` and `target` must be locked in this transaction (in id
    order); funds are checked here, under those locks. The caller flushes `transfer`."""
    if source.available_minor < transfer.amount_minor:
        raise InsufficientFunds(
            f"available {source.available_minor} < {transfer.amount_minor} minor units"
        )
    journal = await post_journal(
        session,
        kind=JOURNAL_KIND.get(transfer.kind, "transfer"),
        description=transfer.reference or "Transfer",
        legs=[
            Leg(
                source.id,
                -transfer.amount_minor,
                transfer.currency,
                counterparty_name=transfer.to_name,
                counterparty_number=transfer.to_account_number,
            ),
            Leg(
                target.id,
                transfer.amount_minor,
                transfer.currency,
                counterparty_name=payer_name,
                counterparty_number=source.number,
            ),
        ],
        locked={source.id: source, target.id: target},
    )
    transfer.journal_id = journal.id
    transfer.status = TransferStatus.completed.value
    transfer.completed_at = utcnow()
    transfer.otp_hash = None


async def _execute(session: AsyncSession, transfer: Transfer) -> tuple[str, str | None]:
    """Complete a held transfer: lock both accounts in id order, check funds, post.
    Returns (source account number, payer's name) for rendering."""
    locked = await LedgerRepository(session).lock_accounts(
        [transfer.from_account_id, transfer.to_account_id]
    )
    accounts: dict[str, Account] = {a.id: a for a in locked}
    source, target = accounts[transfer.from_account_id], accounts[transfer.to_account_id]
    payer = await TransferRepository(session).customer(transfer.customer_id)
    payer_name = payer.display_name if payer else None
    await _post(session, transfer, source, target, payer_name)
    await session.flush()
    return source.number, payer_name


async def confirm(
    session: AsyncSession,
    customer: Principal,
    transfer_id: str,
    code: str,
    settings: Settings,
    client_ip: str,
) -> dict[str, Any] | Problem:
    """A Problem is *returned* (not raised) when the failed attempt must be committed."""
    transfer = await TransferRepository(session).get_owned(customer.id, transfer_id, lock=True)
    if transfer is None:
        raise NotFound("No such transfer")
    if transfer.status == TransferStatus.completed.value:
        return await render(session, transfer)  # a repeated confirm changes nothing
    if transfer.status != TransferStatus.requires_confirmation.value:
        raise InvalidState(f"transfer is {transfer.status}")
    if transfer.otp_expires_at is None or transfer.otp_expires_at <= utcnow():
        await _cancel(session, transfer, customer, client_ip, "confirmation code expired")
        return ConfirmationExpired("The transfer was cancelled; please start again")
    if not hmac.compare_digest(_otp_hash(settings, transfer.id, code), transfer.otp_hash or ""):
        transfer.otp_attempts += 1
        remaining = settings.confirmation_max_attempts - transfer.otp_attempts
        if remaining <= 0:
            await _cancel(session, transfer, customer, client_ip, "too many wrong codes")
        await session.flush()
        return InvalidConfirmationCode(
            "Wrong code" if remaining > 0 else "Wrong code; the transfer was cancelled",
            extra={"attempts_remaining": max(0, remaining), "status": transfer.status},
        )
    known = await _execute(session, transfer)
    await audit.record(
        session,
        customer_id=customer.id,
        action="transfer.confirmed",
        resource_type="transfer",
        resource_id=transfer.id,
        journal_id=transfer.journal_id,
        amount_minor=transfer.amount_minor,
        currency=transfer.currency,
        client_ip=client_ip,
    )
    return await render(session, transfer, known=known)


async def cancel(
    session: AsyncSession, customer: Principal, transfer_id: str, client_ip: str
) -> dict[str, Any]:
    transfer = await TransferRepository(session).get_owned(customer.id, transfer_id, lock=True)
    if transfer is None:
        raise NotFound("No such transfer")
    if transfer.status == TransferStatus.requires_confirmation.value:
        await _cancel(session, transfer, customer, client_ip, "cancelled by customer")
    elif transfer.status != TransferStatus.cancelled.value:
        raise InvalidState(f"a {transfer.status} transfer cannot be cancelled")
    return await render(session, transfer)


async def _cancel(
    session: AsyncSession, transfer: Transfer, customer: Principal, client_ip: str, why: str
) -> None:
    transfer.status = TransferStatus.cancelled.value
    transfer.otp_hash = None
    await session.flush()
    await audit.record(
        session,
        customer_id=customer.id,
        action="transfer.cancelled",
        resource_type="transfer",
        resource_id=transfer.id,
        client_ip=client_ip,
        detail=why,
    )
