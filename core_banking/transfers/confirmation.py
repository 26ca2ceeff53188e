"""A held transfer's end: confirmed with step-up (the hold is captured and the money
moves), cancelled (the hold is released) or found expired (by the database clock)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core_banking import audit, rawsql
from core_banking.holds import service as holds
from core_banking.ledger.repository import LedgerRepository
from core_banking.models import Account, Hold, HoldStatus, Transfer, TransferKind, TransferStatus
from core_banking.problems import (
    ConfirmationExpired,
    InvalidConfirmationCode,
    InvalidState,
    NotFound,
    Problem,
)
from core_banking.security import Principal
from core_banking.settings import Settings
from core_banking.step_up import methods as step_up_methods
from core_banking.step_up.methods import Verdict
from core_banking.transfers import usage
from core_banking.transfers.repository import LockedTransfer, TransferRepository
from core_banking.transfers.service import move_money
from core_banking.transfers.views import render


async def _lock(session: AsyncSession, customer: Principal, transfer_id: str) -> LockedTransfer:
    found = await TransferRepository(session).lock_owned(customer.id, transfer_id)
    if found is None:
        raise NotFound("No such transfer")
    return found


async def confirm(
    session: AsyncSession,
    customer: Principal,
    transfer_id: str,
    code: str,
    settings: Settings,
    client_ip: str,
) -> dict[str, Any] | Problem:
    """A Problem is *returned* (not raised) when the failed attempt must be committed."""
    found = await _lock(session, customer, transfer_id)
    transfer, hold = found.transfer, found.hold
    if transfer.status == TransferStatus.completed.value:
        return await render(session, transfer, known=found.known)  # changes nothing
    if transfer.status != TransferStatus.requires_confirmation.value:
        raise InvalidState(f"transfer is {transfer.status}")
    assert hold is not None, "a held transfer always has a hold"
    if found.expired:
        # Its hold already stopped reserving the money; this only records the end.
        await _end(session, transfer, hold, HoldStatus.expired, customer, client_ip, "expired")
        return ConfirmationExpired("The transfer was cancelled; please start again")
    verdict, method = await step_up_methods.verify(session, customer.id, code, settings)
    if verdict is Verdict.replayed:
        # The right code, already used (e.g. for the previous transfer): no guess, so no
        # attempt is counted; the next code works.
        return InvalidConfirmationCode(
            "That code was already used; please wait for the next one",
            extra={
                "reason": "code_already_used",
                "attempts_remaining": settings.confirmation_max_attempts - transfer.otp_attempts,
                "status": transfer.status,
            },
        )
    if verdict is not Verdict.accepted:  # wrong, or no step-up method any more
        transfer.otp_attempts += 1
        remaining = settings.confirmation_max_attempts - transfer.otp_attempts
        if remaining <= 0:
            await _end(
                session, transfer, hold, HoldStatus.released, customer, client_ip, "wrong codes"
            )
        await session.flush()
        return InvalidConfirmationCode(
            "Wrong code" if remaining > 0 else "Wrong code; the transfer was cancelled",
            extra={"attempts_remaining": max(0, remaining), "status": transfer.status},
        )
    await _execute(session, transfer, hold, payer_name=found.payer_name)
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
        detail=method or "",
    )
    return await render(session, transfer, known=found.known)


async def _execute(
    session: AsyncSession, transfer: Transfer, hold: Hold, *, payer_name: str | None
) -> None:
    """Complete a held transfer: lock both accounts in id order, capture the hold, post."""
    locked = await LedgerRepository(session).lock_accounts(
        [transfer.from_account_id, transfer.to_account_id]
    )
    accounts: dict[str, Account] = {a.id: a for a in locked}
    source, target = accounts[transfer.from_account_id], accounts[transfer.to_account_id]
    await move_money(session, transfer, source, target, payer_name, held=hold)
    await session.flush()
    if transfer.kind != TransferKind.own.value:  # it counts on the day it was created
        day = transfer.created_at.date()
        added = usage.completed(transfer.customer_id, day, transfer.amount_minor)
        await rawsql.execute(session, added.sql, added.params)


async def cancel(
    session: AsyncSession, customer: Principal, transfer_id: str, client_ip: str
) -> dict[str, Any]:
    found = await _lock(session, customer, transfer_id)
    transfer, hold = found.transfer, found.hold
    if transfer.status == TransferStatus.requires_confirmation.value:
        assert hold is not None, "a held transfer always has a hold"
        how = HoldStatus.expired if found.expired else HoldStatus.released
        why = "expired" if found.expired else "by customer"
        await _end(session, transfer, hold, how, customer, client_ip, why)
    elif transfer.status != TransferStatus.cancelled.value:
        raise InvalidState(f"a {transfer.status} transfer cannot be cancelled")
    return await render(session, transfer, known=found.known)


async def _end(
    session: AsyncSession,
    transfer: Transfer,
    hold: Hold,
    how: HoldStatus,
    customer: Principal,
    client_ip: str,
    why: str,
) -> None:
    """Cancel a held transfer and end its hold (released, or expired)."""
    holds.settle(hold, how)
    transfer.status = TransferStatus.cancelled.value
    await session.flush()
    await audit.record(
        session,
        customer_id=customer.id,
        action="transfer.expired" if how is HoldStatus.expired else "transfer.cancelled",
        resource_type="transfer",
        resource_id=transfer.id,
        client_ip=client_ip,
        detail=why,
    )
