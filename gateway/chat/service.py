"""Chat session I/O orchestration: opening/resuming sessions and running turns.

Decisions are taken by the pure helpers in ``protocol.py``; this module only fetches
their inputs (Redis, token check, Rasa) and carries out their outcome.

Callers may rely on:
- ``open_session`` never raises for bad input: it returns ``Opened`` or ``Refused``
  (with the contract error code and WebSocket close code).
- ``run_turn`` processes one session's turns one at a time in call order (per-session
  asyncio lock, FIFO). It sends the turn's ack/typing/bot/error frames to every
  socket of the session through the hub, except replays of a duplicate, which go
  only to ``reply`` (the asking socket; the others saw them the first time).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from redis.exceptions import RedisError

from gateway.auth.tokens import TokenError, TokenService
from gateway.chat import frames, protocol
from gateway.chat.frames import Frame, HelloFrame, MessageFrame
from gateway.chat.hub import SessionHub
from gateway.chat.rasa_client import BotUnavailable, RasaClient
from gateway.chat.store import ChatStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Caller:
    """Who is on this socket; forwarded to Rasa as metadata on every turn."""

    customer_id: str | None = None
    access_token: str | None = None
    display_name: str | None = None


@dataclass(frozen=True)
class Opened:
    session_id: str
    resumed: bool
    caller: Caller
    replay: list[Frame] = field(default_factory=list)


@dataclass(frozen=True)
class Refused:
    code: str
    message: str
    close_code: int


class _SessionLocks:
    """Per-session FIFO locks, dropped when nobody holds or waits for them.

    Only serialises turns within this process. TODO(multi-instance): a Redis-based
    per-session lease or stream consumer so two gateways never run one session's
    turns concurrently.
    """

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class ChatService:
    def __init__(
        self, *, store: ChatStore, hub: SessionHub, rasa: RasaClient, tokens: TokenService
    ) -> None:
        self.store = store
        self.hub = hub
        self._rasa = rasa
        self._tokens = tokens
        self._locks = _SessionLocks()

    def _authenticate(self, token: str | None) -> Caller | Refused:
        if token is None:
            return Caller()
        try:
            claims = self._tokens.decode(token)
        except TokenError as exc:
            log.info("hello with invalid token: %s", exc)
            return Refused("unauthorized", "invalid or expired token",
                           protocol.CLOSE_UNAUTHORIZED)
        if "customer" not in claims.roles:
            # Staff tokens belong to the console, and must never reach Rasa as a customer.
            return Refused("unauthorized", "not a customer token", protocol.CLOSE_UNAUTHORIZED)
        return Caller(customer_id=claims.sub, access_token=token, display_name=claims.name)

    async def open_session(self, hello: HelloFrame) -> Opened | Refused:
        caller = self._authenticate(hello.token)
        if isinstance(caller, Refused):
            return caller
        try:
            if hello.session_id is not None:
                owner = await self.store.get_owner(hello.session_id)
                if owner is not None:
                    if not protocol.may_resume(owner, caller.customer_id):
                        return Refused("forbidden", "this session belongs to someone else",
                                       protocol.CLOSE_FORBIDDEN)
                    await self.store.touch(hello.session_id)
                    # A session_id without last_seq resumes from the start of retention.
                    replay = protocol.frames_after(
                        await self.store.stored_frames(hello.session_id), hello.last_seq or 0
                    )
                    return Opened(hello.session_id, True, caller, replay)
            # Unknown ids get a fresh server-chosen id (no session fixation).
            session_id = await self.store.create_session(protocol.owner_of(caller.customer_id))
        except RedisError as exc:
            log.error("redis unavailable while opening a session: %r", exc)
            return Refused("unavailable", "chat is temporarily unavailable", 1011)
        return Opened(session_id, False, caller)

    async def run_turn(
        self, session_id: str, caller: Caller, message: MessageFrame,
        reply: Callable[[Frame], None],
    ) -> None:
        cmid = message.client_msg_id
        async with self._locks.hold(session_id):
            try:
                await self._run_turn_locked(session_id, caller, message, reply)
            except RedisError as exc:
                log.error("redis unavailable during a turn: %r", exc)
                reply(frames.error("unavailable", "chat is temporarily unavailable", cmid))
                reply(frames.typing(False))

    async def _run_turn_locked(
        self, session_id: str, caller: Caller, message: MessageFrame,
        reply: Callable[[Frame], None],
    ) -> None:
        cmid = message.client_msg_id
        plan = protocol.plan_turn(cmid, await self.store.get_turn(session_id, cmid))
        if isinstance(plan, protocol.NewTurn):
            seq = await self.store.allocate_seqs(session_id, 1)
            if not await self.store.claim_turn(session_id, cmid, seq):
                # Lost a race with another instance: that one owns the turn.
                # (The seq we took stays unused; seqs need only increase.)
                plan = protocol.plan_turn(cmid, await self.store.get_turn(session_id, cmid))
                if isinstance(plan, protocol.ReplayTurn):
                    for frame in plan.frames:
                        reply(frame)
                elif isinstance(plan, protocol.RetryTurn):
                    reply(plan.ack)
                return
            await self.hub.publish(session_id, frames.ack(cmid, seq))
        elif isinstance(plan, protocol.ReplayTurn):
            for frame in plan.frames:
                reply(frame)
            return
        else:
            seq = int(plan.ack["seq"])
            reply(plan.ack)

        await self.store.touch(session_id)
        await self.hub.publish(session_id, frames.typing(True))
        try:
            responses = await self._rasa.send(session_id, message.content, {
                "customer_id": caller.customer_id, "access_token": caller.access_token,
                "display_name": caller.display_name, "session_id": session_id,
            })
        except BotUnavailable:
            # The turn stays stored (pending); resending the same client_msg_id retries it.
            await self.hub.publish(session_id, frames.error(
                "unavailable", "The assistant is unavailable right now. Please try again "
                "in a moment.", cmid))
            await self.hub.publish(session_id, frames.typing(False))
            return
        first = await self.store.allocate_seqs(session_id, len(responses)) if responses else 0
        replies = protocol.bot_frames(first, cmid, responses)
        # Stored before sent: a client that saw a reply can always get it back on resume.
        await self.store.complete_turn(session_id, cmid, seq, replies)
        for frame in replies:
            await self.hub.publish(session_id, frame)
        await self.hub.publish(session_id, frames.typing(False))
