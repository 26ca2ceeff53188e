"""Idempotency-Key handling for money-moving POSTs.

A record per (customer, key) holds a hash of the request and the response that was sent.
It is inserted *before* the work (INSERT ... ON CONFLICT DO NOTHING) and completed after
it, in the same transaction as the ledger entries: a concurrent request with the same key
blocks on the unique index until the first commits, then inserts nothing and replays the
stored response. Failed requests (4xx problems) roll back and store nothing, so a client may
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
from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core_banking.models import IdempotencyRecord
from core_banking.models.base import new_id, utcnow
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
    now = utcnow()
    claim = {
        "customer_id": customer_id,
        "key": key,
        "request_hash": fingerprint,
        "response_status": 0,
        "response_body": "",
        "expires_at": now + timedelta(hours=ttl_hours),
        "created_at": now,
    }
    # Claim the key: one round trip in the usual case. A concurrent twin's INSERT waits
    # on the unique index until the first commits (then inserts nothing and replays
    # below) or rolls back (then claims the key itself).
    record_id = await _claim(session, claim)
    if record_id is None:
        stmt = select(IdempotencyRecord).where(
            IdempotencyRecord.customer_id == customer_id, IdempotencyRecord.key == key
        )
        record = await session.scalar(stmt)
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
        # Expired and deleted (or gone meanwhile): claim it again; a racing twin now
        # fails with a unique violation, and the transaction retry replays.
        record_id = new_id()
        await session.execute(insert(IdempotencyRecord).values(id=record_id, **claim))

    outcome = await work()
    await session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.id == record_id)
        .values(
            response_status=outcome.status,
            response_body=json.dumps(outcome.stored_body, separators=(",", ":")),
        )
        .execution_options(synchronize_session=False)
    )
    return outcome


async def _claim(session: AsyncSession, values: dict[str, Any]) -> str | None:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING id: the new id, or None if taken."""
    dialect = session.get_bind().dialect.name
    insert_fn = sqlite_insert if dialect == "sqlite" else pg_insert
    record_id = new_id()
    stmt = (
        insert_fn(IdempotencyRecord)
        .values(id=record_id, **values)
        .on_conflict_do_nothing(index_elements=["customer_id", "key"])
        .returning(IdempotencyRecord.id)
    )
    claimed = await session.scalar(stmt)
    return None if claimed is None else str(claimed)
