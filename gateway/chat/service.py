"""Chat session I/O orchestration: opening/resuming sessions and admitting turns.

Decisions are taken by the pure helpers in ``protocol.py`` and ``pii.py``; this module
only fetches their inputs (Redis, token check) and carries out their outcome. Running
the admitted turns against Rasa is ``turns.TurnRunner``'s job, on whichever instance
holds the session's lease.

Callers may rely on:
- ``open_session`` never raises for bad input: it returns ``Opened`` or ``Refused``
  (with the contract error code and WebSocket close code). A customer with
  MAX_SOCKETS_PER_USER sockets open (all instances) is refused with ``rate_limited``
  and close 1008; ``socket_closed`` must be called for every ``Opened`` socket.
- ``submit`` returns once the turn is admitted (or refused); it never raises. The new
  turn's ``ack`` goes to every socket of the session (published by the admission
  script, which also stored the turn; delivered here to local sockets); frames for a
  duplicate (its ack, and its replies if it was answered) and refusals
  (``rate_limited``, ``unavailable``) go only to ``reply``, the asking socket. The
  text is PII-masked before it is stored anywhere (see ``pii.py``). Admission is one
  Redis round trip (``ChatStore.submit``): dedupe, token buckets, queue bound, seq,
  store, enqueue, session expiry, gift-card refs and the ack's publish, atomically.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import RedisError

from gateway.auth.tokens import TokenError, TokenService
from gateway.chat import frames, pii, protocol
from gateway.chat.credentials import TurnSealer, conceal_frame
from gateway.chat.frames import FeedbackFrame, Frame, HelloFrame, MessageFrame, RatingFrame
from gateway.chat.hub import SessionHub
from gateway.chat.limits import BUCKET_NAMES, SOCKET_REFRESH_SECONDS, Limits
from gateway.chat.store import ChatStore
from gateway.chat.store_results import Known, Limited, QueueFull
from gateway.chat.turns import TurnRunner
from gateway.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Caller:
    """Who is on this socket. The socket's token itself is not kept: each turn gets a
    delegated token minted from these claims (``turns.py``)."""

    customer_id: str | None = None
    display_name: str | None = None
    username: str | None = None
    roles: tuple[str, ...] = ()
    expires_at: int | None = None  # the socket token's exp (None for guests)
    client_ip: str | None = None  # the socket's peer (or the trusted proxy's client)
    # The browser's preferred language (Accept-Language): how the customer writes
    # numbers ("1.100" is 1,100.00 in de, 1.10 in en); None: the NLU asks.
    locale: str | None = None

    def queued(self) -> dict[str, Any]:
        """What a queued turn keeps of its caller (no secret); ``sub`` None: a guest."""
        return {
            "sub": self.customer_id,
            "roles": list(self.roles),
            "name": self.display_name,
            "username": self.username,
            "ip": self.client_ip,
            "locale": self.locale,
        }


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


class ChatService:
    def __init__(
        self,
        *,
        store: ChatStore,
        hub: SessionHub,
        runner: TurnRunner,
        limits: Limits,
        tokens: TokenService,
        sealer: TurnSealer,
        metrics: Metrics,
        pii_ref_ttl_seconds: int,
    ) -> None:
        self.store = store
        self._sealer = sealer
        self.hub = hub
        self.runner = runner
        self.metrics = metrics
        self._limits = limits
        self._tokens = tokens
        self._pii_ttl = pii_ref_ttl_seconds
        self._sockets: dict[str, str] = {}  # live customer sockets here: id -> sub

    def _authenticate(
        self, token: str | None, client_ip: str | None, locale: str | None = None
    ) -> Caller | Refused:
        if token is None:
            return Caller(client_ip=client_ip, locale=locale)
        try:
            claims = self._tokens.decode(token)
        except TokenError as exc:
            log.info("hello with invalid token: %s", exc)
            return Refused("unauthorized", "invalid or expired token", protocol.CLOSE_UNAUTHORIZED)
        if "customer" not in claims.roles:
            # Staff tokens belong to the console, and must never reach Rasa as a customer.
            return Refused("unauthorized", "not a customer token", protocol.CLOSE_UNAUTHORIZED)
        return Caller(
            customer_id=claims.sub,
            display_name=claims.name,
            username=claims.username,
            roles=claims.roles,
            expires_at=claims.exp,
            client_ip=client_ip,
            locale=locale,
        )

    async def open_session(
        self,
        hello: HelloFrame,
        socket_id: str,
        client_ip: str | None = None,
        locale: str | None = None,
    ) -> Opened | Refused:
        caller = self._authenticate(hello.token, client_ip, locale)
        if isinstance(caller, Refused):
            return caller
        try:
            if caller.customer_id is not None:
                if not await self._limits.open_socket(caller.customer_id, socket_id):
                    return Refused(
                        "rate_limited",
                        "too many open connections for this user",
                        protocol.CLOSE_POLICY,
                    )
                self._sockets[socket_id] = caller.customer_id
            return await self._open(hello, caller)
        except RedisError as exc:
            log.error("redis unavailable while opening a session: %r", exc)
            return Refused("unavailable", "chat is temporarily unavailable", 1011)

    async def _open(self, hello: HelloFrame, caller: Caller) -> Opened | Refused:
        if hello.session_id is not None:
            owner = await self.store.get_owner(hello.session_id)
            if owner is not None:
                if not protocol.may_resume(owner, caller.customer_id):
                    return Refused(
                        "forbidden",
                        "this session belongs to someone else",
                        protocol.CLOSE_FORBIDDEN,
                    )
                await self.store.touch(hello.session_id)
                # A session_id without last_seq resumes from the start of retention.
                # Secrets a reply showed once are not shown again (last four only).
                replay = [
                    conceal_frame(f)
                    for f in protocol.frames_after(
                        await self.store.stored_frames(hello.session_id), hello.last_seq or 0
                    )
                ]
                return Opened(hello.session_id, True, caller, replay)
        # Unknown ids get a fresh server-chosen id (no session fixation).
        session_id = await self.store.create_session(protocol.owner_of(caller.customer_id))
        return Opened(session_id, False, caller)

    async def socket_closed(self, socket_id: str) -> None:
        user = self._sockets.pop(socket_id, None)
        if user is not None:
            try:
                await self._limits.close_socket(user, socket_id)
            except RedisError as exc:  # the entry expires by itself
                log.warning("could not unregister socket: %r", exc)

    async def maintain_forever(self) -> None:
        """Keep this instance's socket entries alive in the per-user socket count."""
        while True:
            await asyncio.sleep(SOCKET_REFRESH_SECONDS)
            try:
                await self._limits.refresh_sockets(dict(self._sockets))
            except RedisError as exc:
                log.warning("socket refresh failed: %r", exc)

    def live(self, frame: Frame) -> Frame:
        """A frame as a connected socket gets it the moment it is sent: the one time a
        sealed secret (a gift-card receipt) is shown in clear."""
        return self._sealer.reveal_frame(frame)

    @staticmethod
    def new_socket_id() -> str:
        return uuid.uuid4().hex

    async def submit(
        self,
        session_id: str,
        caller: Caller,
        message: MessageFrame,
        reply: Callable[[Frame], None],
    ) -> None:
        cmid = message.client_msg_id
        try:
            # Masked before anything is stored. Whether a bare 3-4 digit message is a CVV
            # depends on the session's expect_secret flag, which the admission script
            # reads itself: it is given both forms and stores the right one.
            masked = pii.mask(message.content)
            queued_at = time.time()
            turn = {"content": masked.text, "caller": caller.queued(), "queued_at": queued_at}
            secret_turn = (
                {**turn, "content": pii.REDACTED} if pii.is_bare_secret(message.content) else None
            )
            outcome = await self.store.submit(
                session_id,
                cmid,
                turn,
                secret_turn=secret_turn,
                buckets=self._limits.message_buckets(session_id, caller.customer_id),
                bucket_names=BUCKET_NAMES,
                refs=masked.gift_cards,
                ref_ttl=self._pii_ttl,
                ack=frames.ack(cmid, 0),
                fanout=self.hub.fanout(session_id),
            )
        except RedisError as exc:
            log.error("redis unavailable while admitting a turn: %r", exc)
            self._refuse(reply, "unavailable", "chat is temporarily unavailable", cmid)
            return
        except Exception:  # a bug must cost this message, never the socket
            log.exception("admitting a turn failed")
            self._refuse(reply, "internal", "something went wrong", cmid)
            return
        if isinstance(outcome, Known):
            # A duplicate: its ack (and its replies if answered) to the asker only; a
            # pending one's replies reach every socket through the hub when ready.
            plan = protocol.plan_turn(cmid, outcome.record)
            if isinstance(plan, protocol.ReplayTurn):
                for frame in plan.frames:
                    reply(conceal_frame(frame))
            elif isinstance(plan, protocol.PendingTurn):
                reply(plan.ack)
            return
        if isinstance(outcome, Limited):
            self._refuse(
                reply, "rate_limited", f"too many messages ({outcome.limit} limit); slow down", cmid
            )
            return
        if isinstance(outcome, QueueFull):
            self._refuse(
                reply,
                "rate_limited",
                "too many messages waiting for an answer; wait for the replies",
                cmid,
            )
            return
        # Stored and published to the other instances by the script; now ours.
        self.hub.deliver_local(session_id, frames.ack(cmid, outcome.seq))
        self.runner.kick(session_id)

    async def rate(
        self,
        session_id: str,
        caller: Caller,
        rating: FeedbackFrame | RatingFrame,
        reply: Callable[[Frame], None],
    ) -> None:
        """Record the customer's feedback on one reply or rating of the conversation
        (through the transcript stream, like turns). Never raises: a feedback naming
        no ``bot`` frame of the session gets ``bad_request``, Redis down ``unavailable``."""
        comment = pii.mask(rating.comment).text if rating.comment else None
        entry: dict[str, Any] = {
            "session_id": session_id,
            "comment": comment,
            "at": time.time(),
            "customer_id": caller.customer_id,
        }
        try:
            if isinstance(rating, FeedbackFrame):
                stored = await self.store.stored_frames(session_id)
                if not protocol.rated_reply(stored, rating.seq):
                    self._refuse(
                        reply, "bad_request", f"seq {rating.seq} is not a bot reply of this session"
                    )
                    return
                entry.update(event="feedback", seq=rating.seq, value=rating.value)
            else:
                entry.update(event="rating", score=rating.score)
            await self.store.add_transcript_event(entry)
        except RedisError as exc:
            log.error("redis unavailable while recording a rating: %r", exc)
            self._refuse(reply, "unavailable", "chat is temporarily unavailable")

    def _refuse(
        self, reply: Callable[[Frame], None], code: str, message: str, cmid: str | None = None
    ) -> None:
        self.metrics.error(code)
        reply(frames.error(code, message, cmid))
