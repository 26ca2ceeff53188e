"""Redis persistence of chat sessions: owner, seq counter, stored frames, dedupe records.

Keys (all under REDIS_KEY_PREFIX, all expiring SESSION_TTL_SECONDS after the last
activity):
- ``chat:{sid}``           hash: ``owner`` (``guest`` | ``customer:<sub>``)
- ``chat:{sid}:seq``       the per-session seq counter (INCR: starts at 1, never reused)
- ``chat:{sid}:frames``    list of JSON server frames that carry a seq (bot/agent/handoff),
                           trimmed to the last SESSION_RETENTION_FRAMES
- ``chat:{sid}:turn:{id}`` JSON ``TurnRecord`` for one client_msg_id (dedupe)

Callers may rely on: seqs survive gateway restarts (they live in Redis) and are
strictly increasing per session; every method raises ``redis.exceptions.RedisError``
when Redis is unreachable.
"""

from __future__ import annotations

import json
import secrets

from redis.asyncio import Redis

from gateway.chat.frames import Frame
from gateway.chat.protocol import TurnRecord


class ChatStore:
    def __init__(self, redis: Redis, *, key_prefix: str, retention: int, ttl_seconds: int) -> None:
        self._redis = redis
        self._prefix = key_prefix
        self._retention = retention
        self._ttl = ttl_seconds

    def _key(self, session_id: str, *parts: str) -> str:
        return ":".join((f"{self._prefix}chat", session_id, *parts))

    async def create_session(self, owner: str) -> str:
        session_id = secrets.token_hex(16)  # 128 random bits: unguessable, see may_resume
        key = self._key(session_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"owner": owner})
            pipe.expire(key, self._ttl)
            await pipe.execute()
        return session_id

    async def get_owner(self, session_id: str) -> str | None:
        owner = await self._redis.hget(self._key(session_id), "owner")
        return owner.decode() if isinstance(owner, bytes) else owner

    async def touch(self, session_id: str) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in (self._key(session_id), self._key(session_id, "seq"),
                        self._key(session_id, "frames")):
                pipe.expire(key, self._ttl)
            await pipe.execute()

    async def allocate_seqs(self, session_id: str, count: int) -> int:
        """Reserve ``count`` consecutive seqs; returns the first one."""
        last = int(await self._redis.incrby(self._key(session_id, "seq"), count))
        return last - count + 1

    async def stored_frames(self, session_id: str) -> list[Frame]:
        raw = await self._redis.lrange(self._key(session_id, "frames"), 0, -1)
        return [json.loads(item) for item in raw]

    async def get_turn(self, session_id: str, client_msg_id: str) -> TurnRecord | None:
        raw = await self._redis.get(self._key(session_id, "turn", client_msg_id))
        return None if raw is None else TurnRecord.from_json(json.loads(raw))

    async def claim_turn(self, session_id: str, client_msg_id: str, seq: int) -> bool:
        """Store a pending record unless one exists (SET NX); True if we created it."""
        record = TurnRecord(seq=seq, done=False)
        created = await self._redis.set(
            self._key(session_id, "turn", client_msg_id), json.dumps(record.to_json()),
            nx=True, ex=self._ttl,
        )
        return bool(created)

    async def complete_turn(
        self, session_id: str, client_msg_id: str, seq: int, replies: list[Frame]
    ) -> None:
        """Atomically mark the turn answered and append its replies to the frame log."""
        record = TurnRecord(seq=seq, done=True, frames=tuple(replies))
        frames_key = self._key(session_id, "frames")
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._key(session_id, "turn", client_msg_id),
                     json.dumps(record.to_json()), ex=self._ttl)
            if replies:
                pipe.rpush(frames_key, *(json.dumps(f) for f in replies))
                pipe.ltrim(frames_key, -self._retention, -1)
                pipe.expire(frames_key, self._ttl)
            await pipe.execute()
