"""Where a transfer goes: one of our accounts, or another bank via our clearing account.

Two steps, so that the accounts can be fetched and locked in one statement (see
transfers.service): `requested_number` turns the request into a validated IBAN (no
locks), and `choose` classifies the rows that BookingRepository.lock_accounts
returned for it. Every account of this bank carries our bank code (iban.OUR_BANK_CODE),
so any other valid IBAN is another bank's, paid through `clearing:<CCY>`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core_banking.iban import IbanError, is_our_bank, normalize_iban
from core_banking.models import Payee, TransferKind
from core_banking.naming import mask_name
from core_banking.problems import InvalidIban, NotFound, UnknownAccount
from core_banking.transfers.booking import LockedAccount


@dataclass(frozen=True)
class Destination:
    account: LockedAccount  # the account credited (the clearing account for other banks)
    number: str  # the IBAN the customer asked for
    name: str | None  # as shown to the payer
    kind: TransferKind


@dataclass(frozen=True)
class Requested:
    number: str  # electronic form
    payee_name: str | None  # the saved payee's name, when a payee_id was given

    @property
    def external(self) -> bool:
        return not is_our_bank(self.number)


async def requested_number(
    session: AsyncSession,
    *,
    customer_id: str,
    to_account_number: str | None,
    payee_id: str | None,
) -> Requested:
    payee_name: str | None = None
    if payee_id is not None:
        payee = await session.scalar(
            select(Payee).where(Payee.id == payee_id, Payee.customer_id == customer_id)
        )
        if payee is None:
            raise NotFound("No such payee")
        raw_number, payee_name = payee.iban, payee.name
    else:
        assert to_account_number is not None  # schema: exactly one is given
        raw_number = to_account_number
    try:
        number = normalize_iban(raw_number)
    except IbanError as exc:
        raise InvalidIban(f"{raw_number!r} is not a valid IBAN") from exc
    return Requested(number, payee_name)


def choose(
    requested: Requested,
    rows: Sequence[LockedAccount],
    *,
    customer_id: str,
    clearing: LockedAccount | None,
) -> Destination:
    """rows: the accounts as locked for this transfer."""
    if requested.external:
        assert clearing is not None
        return Destination(clearing, requested.number, requested.payee_name, TransferKind.external)
    account = next((a for a in rows if a.number == requested.number), None)
    if account is None or account.customer_id is None:
        # Our bank code but no customer account (or one of the bank's own accounts).
        raise UnknownAccount(f"{requested.number} is not an account customers can pay at this bank")
    owner_name = account.owner_name
    if account.customer_id == customer_id:
        return Destination(account, requested.number, owner_name, TransferKind.own)
    name = requested.payee_name or (mask_name(owner_name) if owner_name else None)
    return Destination(account, requested.number, name, TransferKind.internal)
