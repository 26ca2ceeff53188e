"""Erasing a customer's conversations (supervisors): their Rasa trackers, gateway
sessions in Redis, and every transcript row and everything staff or the customer
added to them.

Callers may rely on: ``erase`` deletes the Rasa trackers first (Rasa 3.6 has no
delete: ``RasaClient.erase_tracker`` calls the route the stack's REST channel adds,
``bot/erasure.py``), then deletes the Redis sessions
(``ChatStore.erase_sessions``, which also tells the transcript writer to drop their
entries still on the way), then the SQL rows, in one transaction with the audit entry.
Sockets still open on those conversations get ``error forbidden`` and close 4403
(the client then starts a new conversation). Every step is idempotent, so a refused
erasure (503: Rasa or Redis unreachable) is simply asked for again. The audit log
keeps that it happened, not whose: the entry's target is ``[erased]`` and earlier
entries naming those conversations or the customer are blanked the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.exceptions import RedisError
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.chat.hub import SessionHub
from gateway.chat.protocol import ERASED_SIGNAL, owner_of
from gateway.chat.rasa_client import BotUnavailable, RasaClient
from gateway.chat.store import ChatStore
from gateway.console.review import repository as repo
from gateway.console.review.common import Action, BotUnreachable, transaction
from gateway.console.review.schemas import Erased
from gateway.console.staff import Staff
from gateway.problems import StoreUnavailable
from gateway.transcripts.model import (
    AuditEntry,
    ChatSession,
    ChatTurn,
    ReplyFeedback,
    SessionNote,
    SessionTag,
    TurnLabel,
)
from gateway.transcripts.schema import TranscriptSchema


class ErasureService:
    def __init__(
        self, *, schema: TranscriptSchema, store: ChatStore, rasa: RasaClient, hub: SessionHub
    ) -> None:
        self._schema = schema
        self._store = store
        self._rasa = rasa
        self._hub = hub

    async def erase(self, customer: str, staff: Staff) -> Erased:
        async with transaction(self._schema) as conn:
            ids = await _customer_ids(conn, customer)
            recorded = await _sessions_of(conn, ids) if ids else []
            names = await _names_of(conn, ids) | {customer}
        try:
            if customer not in ids and await self._store.sessions_of(owner_of(customer)):
                ids.append(customer)  # a customer id known only to live sessions
            live = [sid for cid in ids for sid in await self._store.sessions_of(owner_of(cid))]
        except RedisError as exc:
            raise StoreUnavailable() from exc
        sessions = sorted(set(recorded) | set(live))
        for sid in sessions:
            try:
                await self._rasa.erase_tracker(sid)
            except BotUnavailable as exc:
                raise BotUnreachable() from exc
        try:
            await self._store.erase_sessions([owner_of(cid) for cid in ids], sessions)
        except RedisError as exc:
            raise StoreUnavailable() from exc
        for sid in sessions:  # sockets still open on them are closed (on every instance)
            await self._hub.publish(sid, {"type": ERASED_SIGNAL})
        async with transaction(self._schema) as conn:
            if sessions:
                await _erase(conn, sessions, names)
            # That it happened, by whom and when; not whose conversations.
            await repo.audit(conn, staff.handle, Action.ERASURE, "[erased]")
        return Erased(erased_sessions=len(sessions))


async def _customer_ids(conn: AsyncConnection, customer: str) -> list[str]:
    """Customer ids a staff member's ``customer`` (id, username or display name) names."""
    named = select(ChatSession.customer_id).where(
        ChatSession.customer_id.is_not(None), repo.customer_is(customer)
    )
    direct = select(ChatTurn.customer_id).where(ChatTurn.customer_id == customer)
    rows = await conn.execute(named.union(direct))
    return sorted({r[0] for r in rows if r[0]})


async def _sessions_of(conn: AsyncConnection, ids: Sequence[str]) -> list[str]:
    rows = await conn.execute(
        select(ChatTurn.session_id)
        .where(ChatTurn.customer_id.in_(ids))
        .union(select(ChatSession.session_id).where(ChatSession.customer_id.in_(ids)))
    )
    return sorted({r[0] for r in rows})


async def _names_of(conn: AsyncConnection, ids: Sequence[str]) -> set[str]:
    """Every id, username and display name these customers are known by."""
    rows = await conn.execute(
        select(ChatSession.customer_username, ChatSession.customer_name).where(
            ChatSession.customer_id.in_(ids)
        )
    )
    return {name for row in rows for name in row if name} | set(ids)


async def _erase(conn: AsyncConnection, session_ids: Sequence[str], names: set[str]) -> None:
    """Delete everything recorded about these conversations; audit entries that named
    one of them, or the customer (an export's filter), keep that something happened,
    not about whom."""
    turn_ids = select(ChatTurn.id).where(ChatTurn.session_id.in_(session_ids))
    await conn.execute(delete(TurnLabel).where(TurnLabel.turn_id.in_(turn_ids)))
    for table in (ChatTurn, ReplyFeedback, SessionTag, SessionNote, ChatSession):
        await conn.execute(delete(table).where(table.session_id.in_(session_ids)))
    for name in {*session_ids, *names}:
        await conn.execute(
            update(AuditEntry)
            .where(AuditEntry.target.contains(name, autoescape=True))
            .values(target="[erased]")
        )
