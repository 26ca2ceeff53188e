"""The audit trail of money-moving and security-relevant requests (table audit_log)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core_banking.models import AuditLog
from core_banking.models.base import new_id, utcnow
from core_banking.observability.tracing import current_trace_id
from core_banking.rawsql import Insert


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
    values = row(
        customer_id=customer_id,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        idempotency_key=idempotency_key,
        journal_id=journal_id,
        amount_minor=amount_minor,
        currency=currency,
        client_ip=client_ip,
        detail=detail,
    )
    await session.execute(insert(AuditLog).values(**values))
    if session.new or session.dirty:
        await session.flush()  # as before: callers rely on pending changes being written


def row(
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
) -> dict[str, Any]:
    """The audit_log row's values (a new id, now, the trace id in `detail`)."""
    return {
        "id": new_id(),
        "created_at": utcnow(),
        "customer_id": customer_id,
        "action": action,
        "resource_type": resource_type,
        "resource_id": resource_id,
        "idempotency_key": idempotency_key,
        "journal_id": journal_id,
        "amount_minor": amount_minor,
        "currency": currency,
        "client_ip": client_ip,
        "detail": _with_trace(detail),
    }


def insert_row(values: dict[str, Any]) -> Insert:
    """`row(...)` for rawsql.write_together."""
    return Insert("audit_log", [values])


def _with_trace(detail: str) -> str:
    """``detail`` ending in `` trace_id=<32 hex>`` when the change was made for a traced
    request (a chat turn), so an audit row leads to every service's logs of that turn.
    No column of its own: the table stays as migration 0002 made it."""
    trace_id = current_trace_id()
    if trace_id is None:
        return detail[:500]
    suffix = f"trace_id={trace_id}"
    return f"{detail[: 500 - len(suffix) - 1]} {suffix}".lstrip()
