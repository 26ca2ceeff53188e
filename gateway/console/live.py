"""Live console updates: what changed, pushed to every staff member's open console on
every gateway instance.

Why Redis pub/sub: a change is made on one instance (the transcript writer that stored
a turn, the console call that took a conversation over) while the staff member's
stream may be held by another. So changes are PUBLISHed on ``{prefix}console:events``
and each instance runs one subscriber (``run``) that hands them to its local streams.
Events name what changed, not its content: ``{"type": "sessions", "session_ids": [...],
"handoff": bool}`` (new turns, feedback, ratings, handoff changes, tags, notes, review
marks), ``{"type": "queue"}`` (the handoff queue changed), ``{"type": "erased"}``. The
console then re-reads just those parts through the API, so what it shows is always
what the API says, with the same permissions and audit.

Callers may rely on: ``publish`` never raises (a lost event is logged; the console
re-reads everything when its stream reconnects); a local stream that falls behind
gets one ``{"type": "resync"}`` in place of what it missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterator
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
Event = dict[str, Any]
_BACKLOG = 256  # events a slow stream may have waiting before it is told to resync
RESYNC: Event = {"type": "resync"}


class ConsoleFeed:
    def __init__(self, redis: Redis, *, key_prefix: str) -> None:
        self._redis = redis
        self.channel = f"{key_prefix}console:events"
        self._streams: set[asyncio.Queue[Event]] = set()
        self.listening = asyncio.Event()

    async def publish(self, event: Event) -> None:
        try:
            await self._redis.publish(self.channel, json.dumps(event))
        except RedisError as exc:
            log.warning("console event %s not published: %r", event.get("type"), exc)

    async def sessions_changed(self, session_ids: list[str], *, handoff: bool = False) -> None:
        if session_ids:
            await self.publish({"type": "sessions", "session_ids": session_ids, "handoff": handoff})

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[Event]]:
        """A queue of this instance's share of the events while the block runs."""
        queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=_BACKLOG)
        self._streams.add(queue)
        try:
            yield queue
        finally:
            self._streams.discard(queue)

    def deliver(self, event: Event) -> None:
        for queue in list(self._streams):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:  # a stalled reader: drop its backlog, re-read all
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(RESYNC)

    async def run(self) -> None:
        """Relay published events to local streams until cancelled."""
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel)
                    self.listening.set()
                    # Anything published while we were away is unknown: re-read all.
                    self.deliver(RESYNC)
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._on_message(message.get("data"))
            except RedisError as exc:
                self.listening.clear()
                log.warning("console event listener lost Redis (%r); retrying", exc)
                await asyncio.sleep(1.0)

    def _on_message(self, data: object) -> None:
        try:
            event = json.loads(data)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return
        if isinstance(event, dict) and isinstance(event.get("type"), str):
            self.deliver(event)
