"""Where a transfer goes: one of our accounts, or another bank via our clearing account."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core_banking.iban import IbanError, is_our_bank, normalize_iban
from core_banking.models import Account, Payee, TransferKind
from core_banking.naming import mask_name
from core_banking.problems import InvalidIban, NotFound, UnknownAccount
from core_banking.system import accounts as system_accounts
from core_banking.transfers.repository import TransferRepository


@dataclass(frozen=True)
class Destination:
    account: Account  # the account credited (the clearing account for other banks)
    number: str  # the IBAN the customer asked for
    name: str | None  # as shown to the payer
    kind: TransferKind


async def resolve(
    session: AsyncSession,
    *,
    customer_id: str,
    currency: str,
    to_account_number: str | None,
    payee_id: str | None,
) -> Destination:
    repository = TransferRepository(session)
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

    account = await repository.account_by_number(number)
    if account is not None and account.customer_id is not None:
        if account.customer_id == customer_id:
            owner = await repository.customer(customer_id)
            name = owner.display_name if owner else None
            return Destination(account, number, name, TransferKind.own)
        owner = await repository.customer(account.customer_id)
        name = mask_name(owner.display_name) if owner else None
        return Destination(account, number, payee_name or name, TransferKind.internal)
    if account is not None or is_our_bank(number):
        # Our bank code but no customer account (or one of the bank's own accounts).
        raise UnknownAccount(f"{number} is not an account customers can pay at this bank")
    clearing = await system_accounts.get_or_create(session, system_accounts.CLEARING, currency)
    return Destination(clearing, number, payee_name, TransferKind.external)
