"""Fan-out of a session's server frames to every socket of that session.

Local sockets are reached directly (a registry of delivery callbacks); other gateway
instances via Redis pub/sub on ``{prefix}events:{sid}``. Each instance tags what it
publishes with its id and ignores its own messages, so local sockets get each frame
once and without a Redis round trip.

Callers may rely on: ``publish`` delivers to local sockets synchronously, in call
order, and never raises because Redis is down (remote delivery is then lost and logged).
Delivery callbacks must not block (they enqueue). The hot path does not call
``publish``: the store's Lua scripts PUBLISH the stored frames (and ack / typing) in
the same round trip that stores them, using ``fanout(sid)``, and the caller then hands
the same frames to ``deliver_local``. The envelope is ``{"origin": <instance id>,
"frame": <frame>}`` either way; an instance drops its own messages by their prefix,
without parsing them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.chat.frames import Frame
from gateway.chat.store_results import Fanout

log = logging.getLogger(__name__)
Deliver = Callable[[Frame], None]


class SessionHub:
    def __init__(self, redis: Redis, *, key_prefix: str) -> None:
        self._redis = redis
        self._prefix = key_prefix
        self.instance_id = uuid.uuid4().hex
        self._local: dict[str, set[Deliver]] = {}
        self.listening = asyncio.Event()  # set once the pub/sub subscription is live
        self._head = '{"origin": ' + json.dumps(self.instance_id) + ', "frame": '
        self._own = self._head.encode()

    def _channel(self, session_id: str) -> str:
        return f"{self._prefix}events:{session_id}"

    def fanout(self, session_id: str) -> Fanout:
        """Channel and envelope for publishing this session's frames from a script."""
        return Fanout(self._channel(session_id), self._head)

    def register(self, session_id: str, deliver: Deliver) -> None:
        self._local.setdefault(session_id, set()).add(deliver)

    def unregister(self, session_id: str, deliver: Deliver) -> None:
        subscribers = self._local.get(session_id)
        if subscribers is not None:
            subscribers.discard(deliver)
            if not subscribers:
                del self._local[session_id]

    def deliver_local(self, session_id: str, frame: Frame) -> None:
        """To this instance's sockets of the session only (the frame was published)."""
        for deliver in list(self._local.get(session_id, ())):
            deliver(frame)

    async def publish(self, session_id: str, frame: Frame) -> None:
        self.deliver_local(session_id, frame)
        fanout = self.fanout(session_id)
        try:
            await self._redis.publish(fanout.channel, fanout.envelope(frame))
        except RedisError as exc:
            log.warning("pub/sub publish failed for session %s: %r", session_id, exc)

    async def run(self) -> None:
        """Relay other instances' frames to local sockets until cancelled.

        One pattern subscription for all sessions keeps this simple; every instance
        then sees every session's traffic. TODO(scale): per-session SUBSCRIBE (or
        sharded pub/sub) once the instance count makes that traffic matter.
        """
        pattern = f"{self._prefix}events:*"
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.psubscribe(pattern)
                    self.listening.set()
                    async for message in pubsub.listen():
                        if message.get("type") == "pmessage":
                            self._on_message(message)
            except RedisError as exc:
                self.listening.clear()
                log.warning("pub/sub listener lost Redis (%r); retrying", exc)
                await asyncio.sleep(1.0)

    def _on_message(self, message: dict[str, object]) -> None:
        channel = message["channel"]
        data = message["data"]
        if isinstance(data, bytes) and data.startswith(self._own):
            return  # our own frame, already delivered locally
        if isinstance(channel, bytes):
            channel = channel.decode()
        try:
            envelope = json.loads(data)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return
        if envelope.get("origin") == self.instance_id:
            return
        session_id = str(channel).removeprefix(f"{self._prefix}events:")
        self.deliver_local(session_id, envelope["frame"])
