"""The audit trail of money-moving and security-relevant requests (table audit_log)."""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core_banking.models import AuditLog
from core_banking.models.base import new_id, utcnow


async def record(
    session: AsyncSession,
    *,
    customer_id: str,
    action: str,
    resource_type: str,
    resource_id: str | None = None,
    idempotency_key: str | None = None,
    journal_id: str | None = None,
    amount_minor: int | None = None,
    currency: str | None = None,
    client_ip: str | None = None,
    detail: str = "",
) -> None:
    # Same transaction as the change it describes: no audit row without the change.
    # A plain INSERT (no ORM unit of work): nothing reads the row back.
    await session.execute(
        insert(AuditLog).values(
            id=new_id(),
            created_at=utcnow(),
            customer_id=customer_id,
            action=action,
            resource_type=resource_type,
            resource_id=resource_id,
            idempotency_key=idempotency_key,
            journal_id=journal_id,
            amount_minor=amount_minor,
            currency=currency,
            client_ip=client_ip,
            detail=detail[:500],
        )
    )
    if session.new or session.dirty:
        await session.flush()  # as before: callers rely on pending changes being written
