"""Holds: money reserved on an account for a payment not booked yet.

A hold is placed under the account's row lock after checking `available_minor`
(balance less active holds), so the holds of an account never exceed its balance. It
ends exactly once: captured (the journal is posted), released (cancelled) or expired.
Expiry needs no job: `available_minor` and the daily limit only count holds whose
`expires_at` is still ahead by the database clock. The sweeper below only tidies up
afterwards (marks the hold expired, cancels its transfer, writes the audit row).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core_banking import audit
from core_banking.holds.repository import HoldRepository
from core_banking.models import Hold, HoldStatus, TransferStatus
from core_banking.models.base import new_id, utcnow
from core_banking.problems import InsufficientFunds

log = logging.getLogger(__name__)
SWEEP_BATCH = 200


def reserve(
    *, account_id: str, currency: str, available_minor: int, amount_minor: int, expires_at: datetime
) -> dict[str, Any]:
    """A new active hold's row. `available_minor` must have been read under the
    account's row lock in this transaction, and the row written in it."""
    if available_minor < amount_minor:
        raise InsufficientFunds(f"available {available_minor} < {amount_minor}")
    return {
        "id": new_id(),
        "created_at": utcnow(),
        "account_id": account_id,
        "amount_minor": amount_minor,
        "currency": currency,
        "status": HoldStatus.active.value,
        "expires_at": expires_at,
    }


def settle(hold: Hold, status: HoldStatus) -> None:
    """End an active hold: captured, released or expired."""
    hold.status = status.value
    hold.settled_at = utcnow()


async def sweep_expired(session: AsyncSession, limit: int = SWEEP_BATCH) -> int:
    """Mark expired holds and cancel their transfers; returns how many. Safe to run in
    every process at once (SKIP LOCKED) and at any time: it moves no money."""
    rows = await HoldRepository(session).lock_expired_transfers(limit)
    for transfer, hold in rows:
        settle(hold, HoldStatus.expired)
        transfer.status = TransferStatus.cancelled.value
        await audit.record(
            session,
            customer_id=transfer.customer_id,
            action="transfer.expired",
            resource_type="transfer",
            resource_id=transfer.id,
            amount_minor=transfer.amount_minor,
            currency=transfer.currency,
            client_ip=None,
            detail="step-up not completed in time",
        )
    await session.flush()
    return len(rows)


async def sweep_forever(sessionmaker: async_sessionmaker[AsyncSession], interval: float) -> None:
    """The app's background sweeper (HOLD_SWEEP_INTERVAL_SECONDS)."""
    while True:
        try:
            async with sessionmaker() as session, session.begin():
                swept = await sweep_expired(session)
            if swept:
                log.info("expired %d held transfers", swept)
        except asyncio.CancelledError:
            raise
        except Exception:  # a database hiccup must not end the loop
            log.warning("hold sweep failed", exc_info=True)
        await asyncio.sleep(interval)
