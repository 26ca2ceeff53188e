"""Runs each session's queued turns, one at a time and in arrival order, on whichever
gateway instance holds the session's lease.

How it works (keys in ``store.py``): a turn is admitted into ``chat:{sid}:q`` by the
instance that received it, which then ``kick``s the session. A kick takes the Redis
lease (SET NX PX with a random token, renewed every third of TURN_LEASE_SECONDS) and
drains the queue head first; every other kick, on any instance, finds the lease taken
and returns, which is what serialises a session across instances. Results are written
with ``store.complete``, which checks the lease token in the same Lua script: a worker
that stalled past its lease can no longer record or pop anything. After releasing the
lease the worker re-checks the queue, so a turn admitted during the release is never
stranded; a crashed worker's sessions are picked up by every instance's sweeper
(``sweep_forever``) once the lease expires.

Rasa degradation: after RASA_SOFT_TIMEOUT_SECONDS without an answer the session gets
``error unavailable`` ("still working"); a failed call (down, 5xx, RASA_TIMEOUT_SECONDS)
also sends ``error unavailable`` once, then the turn is retried with exponential
backoff until RASA_RETRY_WINDOW_SECONDS after it was queued (a deadline kept in Redis,
so it also bounds retries across restarts); past it the turn is answered with a plain
``bot`` frame saying it failed (``custom: {"gateway": "turn_failed"}``), recorded like
any reply. Caveat: a call that timed out may have reached Rasa, so a retry can make
Rasa see that message twice; connection errors (Rasa down) cannot.

Each Rasa call carries a freshly minted access token for the turn's customer
(DELEGATED_TOKEN_TTL_SECONDS, new jti): the customer's own long-lived token never
reaches Rasa's tracker store or event broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.exceptions import RedisError

from gateway.auth.tokens import TokenService
from gateway.chat import frames, pii, protocol
from gateway.chat.hub import SessionHub
from gateway.chat.rasa_client import BotUnavailable, RasaClient
from gateway.chat.store import ChatStore
from gateway.metrics import Metrics
from gateway.settings import Settings

log = logging.getLogger(__name__)
FAILED_TEXT = ("Sorry, I could not answer your message because the assistant is "
               "unavailable. Please try again later.")
SLOW_TEXT = "The assistant is slow right now; still working on your message."
DOWN_TEXT = ("The assistant is unavailable right now. Your message is kept and will be "
             "answered as soon as it is back.")
TurnSink = Callable[[dict[str, Any]], Awaitable[None]]


class LeaseLost(Exception):
    """Another worker owns the session now; stop without touching it."""


class TurnRunner:
    def __init__(
        self, *, store: ChatStore, hub: SessionHub, rasa: RasaClient, tokens: TokenService,
        settings: Settings, metrics: Metrics, background: set[asyncio.Task[None]],
        on_turn_done: TurnSink | None = None,
    ) -> None:
        self._store = store
        self._hub = hub
        self._rasa = rasa
        self._tokens = tokens
        self._settings = settings
        self._metrics = metrics
        self._background = background
        self._on_turn_done = on_turn_done
        self._draining: set[str] = set()  # sessions this instance is draining now

    def kick(self, session_id: str) -> None:
        """Make sure someone drains this session's queue (never blocks, never raises)."""
        if session_id in self._draining:
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
        left = 0
        try:
            if not await self._store.acquire_lease(session_id, token, self._lease):
                return  # another worker has it and will see our turn
            try:
                await self._drain_leased(session_id, token)
            finally:
                # Forget the session first: a kick arriving from here on starts a new
                # drain instead of relying on this one.
                self._draining.discard(session_id)
                left = await self._store.release_lease(session_id, token)
        except (RedisError, LeaseLost) as exc:
            log.warning("worker for session %s stopped: %r", session_id, exc)
        except Exception:
            log.exception("worker for session %s failed", session_id)
        finally:
            self._draining.discard(session_id)
        if left:
            self.kick(session_id)

    @property
    def _lease(self) -> float:
        return self._settings.turn_lease_seconds

    async def _drain_leased(self, session_id: str, token: str) -> None:
        worker = asyncio.current_task()
        assert worker is not None

        async def renew() -> None:
            while True:
                await asyncio.sleep(self._lease / 3)
                try:
                    held = await self._store.renew_lease(session_id, token, self._lease)
                except RedisError:
                    continue  # complete() re-checks the token anyway
                if not held:
                    worker.cancel()
                    return

        renewer = asyncio.create_task(renew())
        try:
            while (cmid := await self._store.queue_head(session_id)) is not None:
                await self._process(session_id, token, cmid)
        finally:
            renewer.cancel()

    async def _process(self, session_id: str, token: str, cmid: str) -> None:
        turn = await self._store.queued_turn(session_id, cmid)
        if turn is None:  # the record expired under it: just drop it from the queue
            await self._store.complete(session_id, cmid, token, [], failed=True)
            return
        caller = turn.get("caller")
        content, queued_at = str(turn["content"]), float(turn["queued_at"])  # type: ignore[arg-type]
        await self._publish(session_id, frames.typing(True))
        deadline = queued_at + self._settings.rasa_retry_window_seconds
        backoff = self._settings.rasa_retry_initial_backoff_seconds
        told = False
        responses: list[dict[str, Any]] | None = None
        while responses is None:
            metadata = self._metadata(session_id, cmid, caller)
            try:
                responses, told = await self._ask(session_id, cmid, content, metadata, told)
            except BotUnavailable:
                if not told:
                    await self._error(session_id, "unavailable", DOWN_TEXT, cmid)
                    await self._publish(session_id, frames.typing(False))
                    told = True
                if time.time() + backoff > deadline:
                    break
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._settings.rasa_retry_max_backoff_seconds)
        failed = responses is None
        if responses is None:
            responses = [{"text": FAILED_TEXT, "custom": {"gateway": "turn_failed"}}]
        count = len(protocol.bot_frames(0, cmid, responses))
        first = await self._store.allocate_seqs(session_id, count) if count else 0
        replies = protocol.bot_frames(first, cmid, responses)
        handoff = any(protocol.requests_handoff(r) for r in responses)
        asks = any(pii.asks_for_secret(str(r.get("text") or "")) for r in responses)
        if not await self._store.complete(session_id, cmid, token, replies, failed=failed,
                                          expect_secret=asks, handoff=handoff):
            raise LeaseLost(session_id)
        for frame in replies:
            await self._publish(session_id, frame)
        await self._publish(session_id, frames.typing(False))
        latency = max(0.0, time.time() - queued_at)
        self._metrics.turns.labels(outcome="failed" if failed else "answered").inc()
        self._metrics.turn_latency.observe(latency)
        if self._on_turn_done is not None:
            await self._on_turn_done({
                "session_id": session_id, "client_msg_id": cmid, "user_text": content,
                "customer_id": caller.get("sub") if isinstance(caller, dict) else None,
                "replies": replies, "failed": failed, "handoff": handoff,
                "latency_ms": int(latency * 1000), "created_at": queued_at,
            })

    def _metadata(self, session_id: str, cmid: str, caller: object) -> dict[str, Any]:
        if not isinstance(caller, dict):
            return {"customer_id": None, "access_token": None, "display_name": None,
                    "session_id": session_id, "client_msg_id": cmid}
        delegated = self._tokens.issue(
            subject=caller["sub"], username=caller.get("username"),
            display_name=caller.get("name"), roles=list(caller["roles"]),
            ttl_seconds=self._settings.delegated_token_ttl_seconds)
        return {"customer_id": caller["sub"], "access_token": delegated,
                "display_name": caller.get("name"), "session_id": session_id,
                "client_msg_id": cmid}

    async def _ask(
        self, session_id: str, cmid: str, content: str, metadata: dict[str, Any], told: bool
    ) -> tuple[list[dict[str, Any]], bool]:
        started = time.monotonic()
        call = asyncio.ensure_future(self._rasa.send(session_id, content, metadata))
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

    async def _error(self, session_id: str, code: str, message: str, cmid: str) -> None:
        self._metrics.error(code)
        await self._publish(session_id, frames.error(code, message, cmid))

    async def _publish(self, session_id: str, frame: frames.Frame) -> None:
        await self._hub.publish(session_id, frame)
