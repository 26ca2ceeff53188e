"""Idempotency-Key handling for money-moving POSTs.

A record per (customer, key) holds a hash of the request and the response that was sent.
It is inserted *before* the work and completed after it, in the same transaction as the
ledger entries: a concurrent request with the same key blocks on the unique index until
the first commits, then fails with a unique violation and, retried, replays the stored
response. Failed requests (4xx problems) roll back and store nothing, so a client may
retry them with the same key. Records are kept for IDEMPOTENCY_TTL_HOURS (>= 24 h).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Header
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core_banking.models import IdempotencyRecord
from core_banking.models.base import utcnow
from core_banking.problems import IdempotencyKeyReused

IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Client-chosen unique key; replays return the original response",
    ),
]


@dataclass(frozen=True)
class Outcome:
    status: int
    body: dict[str, Any]  # what this caller gets
    stored_body: dict[str, Any]  # what a replay gets (no one-time secrets)
    replayed: bool = False


def request_hash(method: str, path: str, body: dict[str, Any]) -> str:
    # The route is part of the hash: one key used on two endpoints is a reuse.
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def run_idempotent(
    session: AsyncSession,
    *,
    customer_id: str,
    key: str,
    fingerprint: str,
    ttl_hours: int,
    work: Callable[[], Awaitable[Outcome]],
) -> Outcome:
    stmt = select(IdempotencyRecord).where(
        IdempotencyRecord.customer_id == customer_id, IdempotencyRecord.key == key
    )
    record = await session.scalar(stmt)
    now = utcnow()
    if record is not None and record.expires_at <= now:
        await session.delete(record)
        await session.flush()
        record = None
    if record is not None:
        if record.request_hash != fingerprint:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was already used with a different request"
            )
        body = json.loads(record.response_body)
        return Outcome(record.response_status, body, body, replayed=True)

    record = IdempotencyRecord(
        customer_id=customer_id,
        key=key,
        request_hash=fingerprint,
        response_status=0,
        response_body="",
        expires_at=now + timedelta(hours=ttl_hours),
    )
    session.add(record)
    await session.flush()  # claims the key; a concurrent twin waits here (see module doc)
    outcome = await work()
    record.response_status = outcome.status
    record.response_body = json.dumps(outcome.stored_body, separators=(",", ":"))
    await session.flush()
    return outcome
