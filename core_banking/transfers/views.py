"""The JSON shape of a transfer, shared by create, replays, reads and lists."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core_banking.models import Account, Customer, Transfer, TransferKind
from core_banking.transfers.schemas import AccountRef, TransferRead


async def render(session: AsyncSession, transfer: Transfer) -> dict[str, Any]:
    source = await session.get(Account, transfer.from_account_id)
    payer = await session.get(Customer, transfer.customer_id)
    assert source is not None
    external = transfer.kind == TransferKind.external.value
    model = TransferRead(
        id=transfer.id,
        status=transfer.status,
        kind=transfer.kind,
        amount_minor=transfer.amount_minor,
        currency=transfer.currency,
        reference=transfer.reference,
        from_account=AccountRef(
            id=source.id, number=source.number, name=payer.display_name if payer else None
        ),
        to_account=AccountRef(
            id=None if external else transfer.to_account_id,
            number=transfer.to_account_number,
            name=transfer.to_name,
        ),
        created_at=transfer.created_at,
        completed_at=transfer.completed_at,
        risk_reasons=[r for r in transfer.risk_reasons.split(",") if r],
    )
    return model.model_dump(mode="json")
