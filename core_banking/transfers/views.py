"""The JSON shape of a transfer, shared by create, replays, reads and lists."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core_banking.models import Account, Customer, Transfer, TransferKind
from core_banking.transfers.schemas import AccountRef, TransferRead


async def render(
    session: AsyncSession, transfer: Transfer, known: tuple[str, str | None] | None = None
) -> dict[str, Any]:
    """`known`: (source account number, payer's name) when the caller has them at hand."""
    if known is None:
        source = await session.get(Account, transfer.from_account_id)
        payer = await session.get(Customer, transfer.customer_id)
        assert source is not None
        known = (source.number, payer.display_name if payer else None)
    from_number, payer_name = known
    external = transfer.kind == TransferKind.external.value
    model = TransferRead(
        id=transfer.id,
        status=transfer.status,
        kind=transfer.kind,
        amount_minor=transfer.amount_minor,
        currency=transfer.currency,
        reference=transfer.reference,
        from_account=AccountRef(id=transfer.from_account_id, number=from_number, name=payer_name),
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
