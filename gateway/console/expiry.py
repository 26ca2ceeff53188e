"""Requests for a person that nobody takes expire.

A customer who asked for a person and waited HANDOFF_QUEUE_TTL_SECONDS (by Redis's
clock, from when they first asked) is given back to the bot: ``handoff`` ``ended`` and
a ``bot`` line saying so (``ConsoleService.expire``). Every gateway instance sweeps;
the end is one atomic script that needs the request still ``requested``, so a sweep
racing another instance, or an agent taking the conversation at that moment, ends it
at most once and never under the agent. A request without a stamp (asked for before
stamps existed) is stamped when first seen, so it expires a TTL later.
"""

from __future__ import annotations

import asyncio
import logging

from redis.exceptions import RedisError

from gateway.chat.store import ChatStore
from gateway.console.service import ConsoleService
from gateway.console.staff import Staff
from gateway.problems import StoreUnavailable

log = logging.getLogger(__name__)
# Who the audit trail and transcript name for an expiry.
QUEUE_TIMEOUT = Staff(sub="system:handoff-expiry", name="Assistant", supervisor=True)


class HandoffExpiry:
    def __init__(
        self, *, store: ChatStore, console: ConsoleService, ttl_seconds: int, every: float
    ) -> None:
        self._store = store
        self._console = console
        self._ttl = ttl_seconds
        self._every = every

    async def sweep(self) -> list[str]:
        """End every request older than the TTL; returns the sessions ended."""
        if self._ttl <= 0:
            return []
        requested = (await self._store.handoff_sessions())["requested"]
        now = await self._store.clock()
        ended = []
        for session_id in requested:
            state = await self._store.handoff_state(session_id)
            if state is None or state.state != "requested":
                continue
            if state.requested_at is None:
                await self._store.stamp_handoff(session_id)
            elif now - state.requested_at >= self._ttl and await self._console.expire(
                session_id, QUEUE_TIMEOUT
            ):
                log.info("handoff request of %s expired unanswered", session_id)
                ended.append(session_id)
        return ended

    async def run(self) -> None:
        while True:
            try:
                await self.sweep()
            except (RedisError, StoreUnavailable) as exc:
                log.warning("handoff expiry paused: %r", exc)
            await asyncio.sleep(self._every)
