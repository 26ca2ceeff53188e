"""Runs each session's queued turns, one at a time and in arrival order, on whichever
gateway instance holds the session's lease.

How it works (keys in ``store.py``): a turn is admitted into ``chat:{sid}:q`` by the
instance that received it, which then ``kick``s the session. A kick takes the Redis
lease (SET NX PX with a random token, renewed every third of TURN_LEASE_SECONDS) and
drains the queue head first; every other kick, on any instance, finds the lease taken
and returns, which is what serialises a session across instances. Results are written
with ``store.complete``, which checks the lease token in the same Lua script: a worker
that stalled past its lease can no longer record or pop anything. The same script
reads the next queue head, or gives the lease up when the queue is empty, so a turn
admitted before it runs is drained by this worker and one admitted after it finds the
lease free; a kick on this instance during a drain makes the worker look again when
it ends. A crashed worker's sessions are picked up by every instance's sweeper
(``sweep_forever``) once the lease expires.

Redis round trips per turn: ``claim`` (lease + head + turn + typing-on publish) and
``complete`` (lease check + seqs + store + pop + transcript XADD + publish + next head
or release); replies reach local sockets right after ``complete`` returns (stored
before sent), and other instances through the PUBLISHes inside it.

Rasa degradation: after RASA_SOFT_TIMEOUT_SECONDS without an answer the session gets
``error unavailable`` ("still working"); a failed call (down, 5xx, RASA_TIMEOUT_SECONDS)
also sends ``error unavailable`` once, then the turn is retried with exponential
backoff until RASA_RETRY_WINDOW_SECONDS after it was queued (a deadline kept in Redis,
so it also bounds retries across restarts); past it the turn is answered with a plain
``bot`` frame saying it failed (``custom: {"gateway": "turn_failed"}``), recorded like
any reply. Caveat: a call that timed out may have reached Rasa, so a retry can make
Rasa see that message twice; connection errors (Rasa down) cannot.

Each Rasa call carries a sealed turn credential (``credentials.py``): for a customer
it holds a freshly minted token of the delegated audience (DELEGATED_TOKEN_TTL_SECONDS,
new jti), which ``/ws`` refuses and which nobody reading Rasa's trackers can open. The
customer's own long-lived token never reaches Rasa.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from redis.exceptions import RedisError

from gateway.auth.tokens import TokenService
from gateway.chat import clauses, frames, pii, protocol, sequence
from gateway.chat.credentials import TurnClaims, TurnSealer
from gateway.chat.hub import SessionHub
from gateway.chat.rasa_client import BotUnavailable, RasaClient
from gateway.chat.store import ChatStore
from gateway.chat.store_results import Fanout, NextTurn
from gateway.metrics import Metrics
from gateway.observability import traceparent
from gateway.settings import Settings

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)
FAILED_TEXT = (
    "Sorry, I could not answer your message because the assistant is "
    "unavailable. Please try again later."
)
SLOW_TEXT = "The assistant is slow right now; still working on your message."
DOWN_TEXT = (
    "The assistant is unavailable right now. Your message is kept and will be "
    "answered as soon as it is back."
)


class LeaseLost(Exception):
    """Another worker owns the session now; stop without touching it."""


TYPING_ON = json.dumps(frames.typing(True))
TYPING_OFF = json.dumps(frames.typing(False))


class TurnRunner:
    def __init__(
        self,
        *,
        store: ChatStore,
        hub: SessionHub,
        rasa: RasaClient,
        tokens: TokenService,
        sealer: TurnSealer,
        settings: Settings,
        metrics: Metrics,
        background: set[asyncio.Task[None]],
    ) -> None:
        self._store = store
        self._sealer = sealer
        self._hub = hub
        self._rasa = rasa
        self._tokens = tokens
        self._settings = settings
        self._metrics = metrics
        self._background = background
        self._draining: set[str] = set()  # sessions this instance is draining now
        self._rekick: set[str] = set()  # kicked while draining: look again afterwards

    def kick(self, session_id: str) -> None:
        """Make sure someone drains this session's queue (never blocks, never raises)."""
        if session_id in self._draining:
            # The running drain may already have given the lease up (in the same script
            # that found the queue empty): look again once it is done.
            self._rekick.add(session_id)
            return
        self._draining.add(session_id)
        task = asyncio.create_task(self._drain(session_id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def sweep_forever(self) -> None:
        """Pick up sessions with queued turns and no live worker (crash, restart)."""
        while True:
            try:
                for sid in await self._store.active_sessions():
                    if sid not in self._draining and not await self._store.lease_held(sid):
                        self.kick(sid)
            except RedisError as exc:
                log.warning("turn sweep failed: %r", exc)
            await asyncio.sleep(self._settings.turn_sweep_interval_seconds)

    async def _drain(self, session_id: str) -> None:
        token = secrets.token_hex(16)
        fanout = self._hub.fanout(session_id)
        renewer: asyncio.Task[None] | None = None
        leased = False
        try:
            step = await self._store.claim(session_id, token, self._lease, TYPING_ON, fanout)
            if step is None:
                return  # another worker has it and will see our turn, or nothing queued
            leased = True
            worker = asyncio.current_task()
            assert worker is not None
            renewer = asyncio.create_task(self._renew(session_id, token, worker))
            while step is not None:
                step = await self._traced(session_id, token, step, fanout)
            leased = False  # the last complete() gave the lease up with the empty queue
        except (RedisError, LeaseLost) as exc:
            log.warning("worker for session %s stopped: %r", session_id, exc)
        except Exception:
            log.exception("worker for session %s failed", session_id)
        finally:
            if renewer is not None:
                renewer.cancel()
            # Forget the session first: a kick arriving from here on starts a new drain.
            self._draining.discard(session_id)
        again = session_id in self._rekick
        self._rekick.discard(session_id)
        if leased:  # stopped by an error while holding the lease: hand it back
            try:
                again = await self._store.release_lease(session_id, token) > 0 or again
            except RedisError as exc:  # it expires by itself; the sweeper takes over
                log.warning("could not release the lease of %s: %r", session_id, exc)
        if again:
            self.kick(session_id)

    @property
    def _lease(self) -> float:
        return self._settings.turn_lease_seconds

    async def _renew(self, session_id: str, token: str, worker: asyncio.Task[Any]) -> None:
        while True:
            await asyncio.sleep(self._lease / 3)
            try:
                held = await self._store.renew_lease(session_id, token, self._lease)
            except RedisError:
                continue  # complete() re-checks the token anyway
            if not held:
                worker.cancel()
                return

    async def _traced(
        self, session_id: str, token: str, step: NextTurn, fanout: Fanout
    ) -> NextTurn | None:
        """``_process`` inside the turn's trace: its W3C context goes to Rasa in the
        message metadata (``traceparent``), so every service logs the same trace_id."""
        started = time.monotonic()
        # A trace of its own (empty parent): the worker task was started from a socket
        # whose connection span is otherwise current, and a turn is the unit to follow.
        with tracer.start_as_current_span(
            "chat turn",
            context=Context(),
            attributes={"chat.session_id": session_id, "chat.client_msg_id": step.client_msg_id},
        ):
            following = await self._process(session_id, token, step, fanout)
            log.info(
                "turn %s:%s done in %.0f ms",
                session_id,
                step.client_msg_id,
                (time.monotonic() - started) * 1000,
            )
        return following

    async def _process(
        self, session_id: str, token: str, step: NextTurn, fanout: Fanout
    ) -> NextTurn | None:
        """Run one turn; returns the next queue head (None: queue empty, lease given up)."""
        cmid, turn = step.client_msg_id, step.turn
        if turn is None:  # the record expired under it: just drop it from the queue
            done = await self._store.complete(
                session_id,
                cmid,
                token,
                [],
                fanout=fanout,
                typing_off="",
                typing_on=TYPING_ON,
                failed=True,
            )
            if done is None:
                raise LeaseLost(session_id)
            return done.next
        caller = turn.get("caller")
        content, queued_at = str(turn["content"]), float(turn["queued_at"])
        self._hub.deliver_local(session_id, frames.typing(True))  # published by the script
        if step.to_agent:
            return await self._pass_to_agent(session_id, token, step, fanout)
        deadline = queued_at + self._settings.rasa_retry_window_seconds
        backoff = self._settings.rasa_retry_initial_backoff_seconds
        told = False
        responses: list[dict[str, Any]] | None = None
        # Several requests in one message go to Rasa one after another (clauses.py), each
        # once the task the one before it opened is done (sequence.py).
        parts = [content] if content.startswith("/") else clauses.split(content)
        while responses is None:
            try:
                responses, told = await self._ask(session_id, cmid, caller, parts, told)
            except BotUnavailable:
                if not told:
                    await self._error(session_id, "unavailable", DOWN_TEXT, cmid)
                    await self._hub.publish(session_id, frames.typing(False))
                    told = True
                if time.time() + backoff > deadline:
                    break
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._settings.rasa_retry_max_backoff_seconds)
        failed = responses is None
        if responses is None:
            responses = [{"text": FAILED_TEXT, "custom": {"gateway": "turn_failed"}}]
        handoff = any(protocol.requests_handoff(r) for r in responses)
        asks = any(pii.asks_for_secret(str(r.get("text") or "")) for r in responses)
        latency = max(0.0, time.time() - queued_at)
        transcript = _transcript_entry(
            session_id, cmid, turn, latency, failed=failed, handoff=handoff
        )
        # Stored, published to other instances, XADDed to the transcript stream and the
        # next head read, in one script; only then do local sockets get the replies.
        done = await self._store.complete(
            session_id,
            cmid,
            token,
            protocol.bot_frames(0, cmid, responses),
            fanout=fanout,
            typing_off=TYPING_OFF,
            typing_on=TYPING_ON,
            failed=failed,
            expect_secret=asks,
            handoff=handoff,
            transcript=transcript,
        )
        if done is None:
            raise LeaseLost(session_id)
        for frame in protocol.bot_frames(done.first_seq, cmid, responses):
            self._hub.deliver_local(session_id, frame)
        self._hub.deliver_local(session_id, frames.typing(False))
        self._metrics.turns.labels(outcome="failed" if failed else "answered").inc()
        self._metrics.turn_latency.observe(latency)
        return done.next

    async def _pass_to_agent(
        self, session_id: str, token: str, step: NextTurn, fanout: Fanout
    ) -> NextTurn | None:
        """An agent holds the conversation: the turn is stored (acked already) and goes
        to the console through the transcript, and Rasa never sees it."""
        turn = step.turn or {}
        latency = max(0.0, time.time() - float(turn["queued_at"]))
        transcript = {
            **_transcript_entry(
                session_id, step.client_msg_id, turn, latency, failed=False, handoff=True
            ),
            "kind": "to_agent",
        }
        done = await self._store.complete(
            session_id,
            step.client_msg_id,
            token,
            [],
            fanout=fanout,
            typing_off=TYPING_OFF,
            typing_on=TYPING_ON,
            transcript=transcript,
        )
        if done is None:
            raise LeaseLost(session_id)
        self._hub.deliver_local(session_id, frames.typing(False))
        self._metrics.turns.labels(outcome="to_agent").inc()
        return done.next

    def _metadata(
        self, session_id: str, cmid: str, caller: object, *, part: int = 0
    ) -> dict[str, Any]:
        """What Rasa stores with the message: who and which turn, in clear for the
        bot's own use, and the sealed credential that alone lets actions act. The
        second and later requests of one message (``part``) are turns of their own."""
        who = caller if isinstance(caller, dict) else {}
        customer_id = who.get("sub")
        token = None
        if customer_id is not None:
            token = self._tokens.issue(
                subject=customer_id,
                username=who.get("username"),
                display_name=who.get("name"),
                roles=list(who.get("roles") or ()),
                ttl_seconds=self._settings.delegated_token_ttl_seconds,
                audience=self._settings.delegated_audience,
            )
        turn_id = f"{session_id}:{cmid}" + (f":{part}" if part else "")
        credential = self._sealer.seal(
            TurnClaims(
                session_id=session_id,
                turn_id=turn_id,
                customer_id=customer_id,
                client_ip=who.get("ip"),
                token=token,
            )
        )
        return {
            "customer_id": customer_id,
            "display_name": who.get("name"),
            "session_id": session_id,
            "client_msg_id": cmid,
            "turn_id": turn_id,
            "credential": credential,
            "traceparent": traceparent(),
            # Read by the NLU's amount extractor (bot/components/banking_entities.py).
            "locale": who.get("locale"),
        }

    async def _ask(
        self, session_id: str, cmid: str, caller: object, parts: list[str], told: bool
    ) -> tuple[list[dict[str, Any]], bool]:
        started = time.monotonic()
        call = asyncio.ensure_future(self._send_in_order(session_id, cmid, caller, parts))
        try:
            if not told:
                soft = self._settings.rasa_soft_timeout_seconds
                done, _ = await asyncio.wait({call}, timeout=soft)
                if not done:
                    await self._error(session_id, "unavailable", SLOW_TEXT, cmid)
                    told = True
            return await call, told
        finally:
            if not call.done():
                call.cancel()
                with contextlib.suppress(BaseException):
                    await call
            self._metrics.rasa_latency.observe(time.monotonic() - started)

    async def _send_in_order(
        self, session_id: str, cmid: str, caller: object, parts: list[str]
    ) -> list[dict[str, Any]]:
        """The requests, and those held from earlier messages, each sent once the task
        before it is done (``sequence.py``); the held ones are kept for a later turn.
        Raises ``BotUnavailable`` before anything is kept: the turn is then retried."""

        async def send(part: str, n: int) -> list[dict[str, Any]]:
            metadata = self._metadata(session_id, cmid, caller, part=n)
            return await self._rasa.send(session_id, part, metadata)

        held = await self._store.held_requests(session_id)
        outcome = await sequence.run_in_order(
            parts, held, send, lambda: self._rasa.task(session_id)
        )
        responses: list[dict[str, Any]] = []
        previous: list[dict[str, Any]] | None = None
        for answer in outcome.answers:
            # Two parts of one message asking the same thing ("do i have to pay tax on
            # my savings? what should i declare") get the same answer: said once.
            if answer != previous:
                responses += answer
            previous = answer
        # Never held silently: the bot says what comes once this task is done.
        responses += await self._rasa.held_notice(session_id, outcome.newly_held)
        if outcome.held != held:
            await self._store.hold_requests(session_id, outcome.held)
        return responses

    async def _error(self, session_id: str, code: str, message: str, cmid: str) -> None:
        self._metrics.error(code)
        await self._hub.publish(session_id, frames.error(code, message, cmid))


def _transcript_entry(
    session_id: str, cmid: str, turn: dict[str, Any], latency: float, *, failed: bool, handoff: bool
) -> dict[str, Any]:
    """The finished turn as the transcript writer stores it (masked text only)."""
    caller = turn.get("caller")
    return {
        "session_id": session_id,
        "client_msg_id": cmid,
        "user_text": str(turn["content"]),
        "customer_id": caller.get("sub") if isinstance(caller, dict) else None,
        # Who the customer is, from their token's claims: the console searches by them.
        "customer_username": caller.get("username") if isinstance(caller, dict) else None,
        "customer_name": caller.get("name") if isinstance(caller, dict) else None,
        "failed": failed,
        "handoff": handoff,
        "latency_ms": int(latency * 1000),
        "created_at": float(turn["queued_at"]),
    }
