"""Transfers: validation, limits, risk rules, execution or a hold for step-up (a held
transfer ends in transfers.confirmation)."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from core_banking import audit
from core_banking.holds import service as holds
from core_banking.idempotency import Claim
from core_banking.ledger.repository import posting_statements
from core_banking.ledger.service import Leg, build_posting, post_journal
from core_banking.models import (
    Account,
    Hold,
    HoldStatus,
    Transfer,
    TransferKind,
    TransferStatus,
)
from core_banking.models.base import new_id, utcnow
from core_banking.observability import metrics
from core_banking.problems import (
    CurrencyMismatch,
    DailyLimitExceeded,
    InsufficientFunds,
    NotFound,
    SameAccount,
    StepUpRequired,
)
from core_banking.rawsql import Insert, Statement
from core_banking.security import Principal
from core_banking.settings import Settings
from core_banking.step_up import methods as step_up_methods
from core_banking.system import accounts as system_accounts
from core_banking.transfers import destination, risk, usage
from core_banking.transfers.booking import TRANSFER_COLUMNS, BookingRepository, LockedAccount
from core_banking.transfers.repository import TransferRepository
from core_banking.transfers.schemas import TransferCreate
from core_banking.transfers.views import render

JOURNAL_KIND = {TransferKind.own.value: "own_transfer"}  # everything else: "transfer"


def limit_day_start(now: datetime) -> datetime:
    """The start of the (UTC) day whose non-own transfers count against the daily limit."""
    return datetime.combine(now.date(), time(0), tzinfo=timezone.utc)


async def daily_limit(
    session: AsyncSession, customer: Principal, settings: Settings
) -> dict[str, Any]:
    """The daily limit, what counts against it today (what `create` checks: completed
    transfers and active holds to other people's accounts) and what is left until it
    resets. A read without locks: a transfer made meanwhile is checked when made."""
    now = utcnow()
    day_start = limit_day_start(now)
    used = await usage.spent_today(session, customer.id, day_start)
    limit = settings.daily_transfer_limit_minor
    return {
        "limit_minor": limit,
        "used_minor": used,
        "remaining_minor": max(0, limit - used),
        "resets_at": day_start + timedelta(days=1),
    }


async def create(
    session: AsyncSession,
    customer: Principal,
    body: TransferCreate,
    settings: Settings,
    *,
    idempotency_key: str,
    client_ip: str,
    claim: Claim | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Returns (body for this caller, body stored for replays). `claim`: the request's
    Idempotency-Key claim; its customer lock is used and its response stored with the
    transfer's own write (the endpoint answers 201).

    Round trips for a completed transfer (README "Execution"), all hand-written SQL
    (transfers.booking): lock the customer (and read the payer's name); lock both
    accounts in id order with the customer's usage for the limits, in one statement;
    then the journal, its entries, the balances, the transfer and the audit row in one.
    """
    repository = BookingRepository(session)
    requested = await destination.requested_number(
        session,
        customer_id=customer.id,
        to_account_number=body.to_account_number,
        payee_id=body.payee_id,
    )
    if claim is not None and claim.customer_locked:
        payer_name = claim.customer_name
    else:
        _, payer_name = await repository.lock_customer(customer.id)
    clearing_code = system_accounts.system_code(system_accounts.CLEARING, body.currency)
    now = utcnow()
    day_start = limit_day_start(now)
    rows, used = await repository.lock_accounts(
        customer.id,
        body.from_account_id,
        number=None if requested.external else requested.number,
        system_code=clearing_code if requested.external else None,
        day_start=day_start,
        since=now - timedelta(seconds=settings.risk_velocity_window_seconds),
        velocity_cap=settings.risk_velocity_max_transfers,
    )
    source = next(
        (a for a in rows if a.id == body.from_account_id and a.customer_id == customer.id), None
    )
    if source is None:
        raise NotFound("No such account")
    if body.currency != source.currency:
        raise CurrencyMismatch(f"the source account is in {source.currency}")
    clearing: LockedAccount | None = None
    if requested.external:
        clearing = next((a for a in rows if a.system_code == clearing_code), None)
        if clearing is None:  # first payment in this currency: a row only we can see yet
            created = await system_accounts.get_or_create(
                session, system_accounts.CLEARING, body.currency
            )
            clearing = LockedAccount.new_system_account(created)
    dest = destination.choose(requested, rows, customer_id=customer.id, clearing=clearing)
    if dest.account.id == source.id:
        raise SameAccount()
    if dest.account.currency != body.currency:
        raise CurrencyMismatch(f"the destination account is in {dest.account.currency}")

    reasons: list[str] = []
    if dest.kind != TransferKind.own:
        spent = used.spent_today
        if spent + body.amount_minor > settings.daily_transfer_limit_minor:
            raise DailyLimitExceeded(
                extra={
                    "limit_minor": settings.daily_transfer_limit_minor,
                    "remaining_minor": max(0, settings.daily_transfer_limit_minor - spent),
                }
            )
        reasons = await risk.assess(
            TransferRepository(session),
            settings,
            customer_id=customer.id,
            to_number=dest.number,
            amount_minor=body.amount_minor,
            recent_count=used.recent_count,
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
        journal_id=None,
        completed_at=None,
        hold_id=None,
    )
    posting: list[Statement | Insert] = []
    hold: dict[str, Any] | None = None
    if reasons:
        method = await step_up_methods.method_for(session, customer.id)
        if method is None:
            raise StepUpRequired("Enrol an authenticator app to make this transfer")
        # The amount is reserved now (funds checked under the source's lock); the money
        # moves when the customer confirms, and the reservation ends with the transfer.
        hold = holds.reserve(
            account_id=source.id,
            currency=source.currency,
            available_minor=source.available_minor,
            amount_minor=body.amount_minor,
            expires_at=utcnow() + timedelta(seconds=settings.confirmation_code_ttl_seconds),
        )
        transfer.hold_id = hold["id"]
        transfer.status = TransferStatus.requires_confirmation.value
        await method.challenge(session, transfer)
    else:
        if source.available_minor < body.amount_minor:
            raise InsufficientFunds(
                f"available {source.available_minor} < {body.amount_minor} minor units"
            )
        posting = _journal(transfer, source, dest.account, payer_name)
        if dest.kind != TransferKind.own:
            day = transfer.created_at.date()
            posting.append(usage.completed(customer.id, day, body.amount_minor))
    stored = await render(session, transfer, known=(source.number, payer_name))
    await repository.save(
        {c: getattr(transfer, c) for c in TRANSFER_COLUMNS},
        audit.insert_row(
            audit.row(
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
        ),
        posting=posting,
        hold=hold,
        response=claim.finish(201, stored) if claim is not None else None,
    )
    metrics.count_transfer(transfer.status)
    return stored, stored


def _legs(transfer: Transfer, source_number: str, payer_name: str | None) -> list[Leg]:
    return [
        Leg(
            transfer.from_account_id,
            -transfer.amount_minor,
            transfer.currency,
            counterparty_name=transfer.to_name,
            counterparty_number=transfer.to_account_number,
        ),
        Leg(
            transfer.to_account_id,
            transfer.amount_minor,
            transfer.currency,
            counterparty_name=payer_name,
            counterparty_number=source_number,
        ),
    ]


def _journal(
    transfer: Transfer, source: LockedAccount, target: LockedAccount, payer_name: str | None
) -> list[Statement | Insert]:
    """Complete `transfer` now: its journal's statements. Both balances were read
    under the accounts' locks, so the entries' running balances are exact."""
    posting = build_posting(
        JOURNAL_KIND.get(transfer.kind, "transfer"),
        transfer.reference or "Transfer",
        _legs(transfer, source.number, payer_name),
        {source.id: source.balance_minor, target.id: target.balance_minor},
        transfer.created_at,
    )
    transfer.journal_id = posting.journal["id"]
    transfer.status = TransferStatus.completed.value
    transfer.completed_at = utcnow()
    return posting_statements(posting.journal, posting.entries, posting.deltas)


async def move_money(
    session: AsyncSession,
    transfer: Transfer,
    source: Account,
    target: Account,
    payer_name: str | None,
    held: Hold | None = None,
) -> None:
    """Move the money. `source` and `target` must be locked in this transaction (in id
    order); funds are checked here, under those locks. `held`: the transfer's own active
    hold, which is captured (what it reserved counts as available to this transfer).
    The caller flushes `transfer`."""
    reserved = held.amount_minor if held is not None else 0
    if source.available_minor + reserved < transfer.amount_minor:
        raise InsufficientFunds(
            f"available {source.available_minor} < {transfer.amount_minor} minor units"
        )
    journal = await post_journal(
        session,
        kind=JOURNAL_KIND.get(transfer.kind, "transfer"),
        description=transfer.reference or "Transfer",
        legs=_legs(transfer, source.number, payer_name),
        locked={source.id: source, target.id: target},
    )
    transfer.journal_id = journal.id
    transfer.status = TransferStatus.completed.value
    transfer.completed_at = utcnow()
    if held is not None:
        holds.settle(held, HoldStatus.captured)
        # The balance fell by what the hold reserved: available is what it was.
        set_committed_value(source, "available_minor", source.available_minor + reserved)
