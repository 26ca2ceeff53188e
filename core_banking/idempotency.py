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

import orjson
from fastapi import Header
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from core_banking import rawsql
from core_banking.models import IdempotencyRecord
from core_banking.models.base import new_id, utcnow
from core_banking.models.customer import name_from_raw
from core_banking.models.encrypted import seal
from core_banking.problems import IdempotencyKeyReused
from core_banking.rawsql import Statement

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


@dataclass
class Claim:
    """This request's claimed Idempotency-Key, handed to the work. The work may write
    the stored response with its own statements (`finish`) instead of run_idempotent's
    UPDATE afterwards; `customer_locked`: the claim also locked the customer row
    (run_idempotent's lock_customer) and read `customer_name`."""

    record_id: str
    customer_locked: bool = False
    customer_name: str | None = None
    finished: bool = False

    def finish(self, status: int, stored_body: dict[str, Any]) -> Statement:
        """The UPDATE that stores the response (encrypted: it holds names and IBANs),
        for rawsql.write_together."""
        self.finished = True
        body = orjson.dumps(stored_body).decode()  # replays read it back with json.loads
        sealed = seal(IdempotencyRecord.__table__, {"response_body": body})
        return Statement(
            FINISH_SQL,
            {
                "idem_id": self.record_id,
                "idem_status": status,
                "idem_body": sealed["response_body"],
            },
        )


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
    work: Callable[[Claim], Awaitable[Outcome]],
    lock_customer: bool = False,
) -> Outcome:
    """`lock_customer`: lock the customer row (FOR NO KEY UPDATE) in the claim's round
    trip, for work that would take that lock first anyway (a transfer)."""
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
    claimed = await _claim(session, claim, lock_customer=lock_customer)
    if claimed is None:
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
        claimed = Claim(new_id())
        await session.execute(insert(IdempotencyRecord).values(id=claimed.record_id, **claim))

    outcome = await work(claimed)
    if not claimed.finished:
        finish = claimed.finish(outcome.status, outcome.stored_body)
        await rawsql.execute(session, finish.sql, finish.params)
    return outcome


FINISH_SQL = (
    "UPDATE idempotency_records SET response_status = %(idem_status)s,"
    " response_body = %(idem_body)s WHERE id = %(idem_id)s"
)
CLAIM_SQL = (
    "INSERT INTO idempotency_records (id, customer_id, key, request_hash, response_status,"
    " response_body, expires_at, created_at) VALUES (%(id)s, %(customer_id)s, %(key)s,"
    " %(request_hash)s, %(response_status)s, %(response_body)s, %(expires_at)s, %(created_at)s)"
    " ON CONFLICT (customer_id, key) DO NOTHING RETURNING id"
)
LOCK_CUSTOMER_SQL = "SELECT display_name FROM customers WHERE id = %(customer_id)s"
# PostgreSQL: the claim and the customer's lock in one round trip.
CLAIM_AND_LOCK_SQL = (
    f"WITH claimed AS ({CLAIM_SQL}),"
    f" payer AS ({LOCK_CUSTOMER_SQL} FOR NO KEY UPDATE)"
    " SELECT (SELECT id FROM claimed), (SELECT display_name FROM payer)"
)


async def _claim(
    session: AsyncSession, values: dict[str, Any], *, lock_customer: bool
) -> Claim | None:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING id (hand-written: every money-moving
    POST runs it), with the customer's lock if asked: the claim, or None if taken."""
    params = {"id": new_id(), **values}
    if lock_customer and rawsql.dialect(session) == rawsql.POSTGRESQL:
        record_id, name = tuple((await rawsql.execute(session, CLAIM_AND_LOCK_SQL, params)).one())
        if record_id is None:
            return None
        return Claim(str(record_id), customer_locked=True, customer_name=name_from_raw(name))
    claimed = (await rawsql.execute(session, CLAIM_SQL, params)).scalar()
    if claimed is None:
        return None
    if not lock_customer:
        return Claim(str(claimed))
    # SQLite: no locks to take (one writer at a time), only the name to read.
    name = (
        await rawsql.execute(session, LOCK_CUSTOMER_SQL, {"customer_id": values["customer_id"]})
    ).scalar()
    return Claim(str(claimed), customer_locked=True, customer_name=name_from_raw(name))
