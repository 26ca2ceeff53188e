from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core_banking.db import AsyncSessionDep
from core_banking.iban import IbanError, normalize_iban
from core_banking.models import Payee
from core_banking.models.payee import iban_indexes
from core_banking.payees.schemas import PayeeCreate, PayeeList, PayeeRead
from core_banking.problems import DuplicatePayee, InvalidIban, NotFound
from core_banking.security import CurrentCustomer

router = APIRouter(prefix="/v1/payees", tags=["payees"])


@router.get("", response_model=PayeeList)
async def list_payees(customer: CurrentCustomer, session: AsyncSessionDep) -> PayeeList:
    stmt = select(Payee).where(Payee.customer_id == customer.id)
    payees = (await session.scalars(stmt)).all()
    # Names are encrypted at rest, so the database cannot order by them: sorted here
    # (a customer has a handful of payees), by name as SQL's default collation did.
    ordered = sorted(payees, key=lambda p: (p.name, p.id))
    return PayeeList(data=[PayeeRead.model_validate(p) for p in ordered])


@router.post("", status_code=201, response_model=PayeeRead)
async def create_payee(
    body: PayeeCreate, customer: CurrentCustomer, session: AsyncSessionDep
) -> PayeeRead:
    try:
        iban = normalize_iban(body.iban)
    except IbanError as exc:
        raise InvalidIban(f"{body.iban!r} is not a valid IBAN") from exc
    # Under every index key: during a rotation the unique constraint alone would miss a
    # twin whose index is still under the old key.
    exists = await session.scalar(
        select(Payee.id).where(
            Payee.customer_id == customer.id, Payee.iban_index.in_(iban_indexes(iban))
        )
    )
    if exists is not None:
        raise DuplicatePayee(extra={"payee_id": exists})
    payee = Payee(customer_id=customer.id, name=body.name.strip(), iban=iban)
    session.add(payee)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent twin got there first
        raise DuplicatePayee() from exc
    return PayeeRead.model_validate(payee)


@router.delete("/{payee_id}", status_code=204)
async def delete_payee(
    payee_id: str, customer: CurrentCustomer, session: AsyncSessionDep
) -> Response:
    payee = await session.scalar(
        select(Payee).where(Payee.id == payee_id, Payee.customer_id == customer.id)
    )
    if payee is None:
        raise NotFound("No such payee")
    await session.delete(payee)
    await session.flush()
    return Response(status_code=204)
