"""Redis persistence of chat sessions: owner, seq counter, stored frames, turns, the
per-session turn queue and its worker lease, gift-card references.

Keys (all under REDIS_KEY_PREFIX; session keys expire SESSION_TTL_SECONDS after the
last activity):
- ``chat:{sid}``          hash: ``owner`` (``guest`` | ``customer:<sub>``),
                          ``expect_secret`` (``1`` when the bot's last reply asked for a
                          CVV), ``handoff`` (``requested`` once the bot asked for a human)
- ``chat:{sid}:seq``      the per-session seq counter (INCR: starts at 1, never reused)
- ``chat:{sid}:frames``   list of JSON server frames that carry a seq (bot/agent/handoff),
                          trimmed to the last SESSION_RETENTION_FRAMES
- ``chat:{sid}:t:{id}``   hash for one client_msg_id: ``seq`` (its ack), ``state``
                          (``pending``/``done``/``failed``), ``turn`` (JSON ``QueuedTurn``,
                          masked text only), ``frames`` (JSON replies once answered)
- ``chat:{sid}:q``        list of client_msg_ids waiting, in arrival order (head = next)
- ``chat:{sid}:lease``    token of the one worker (any instance) draining the queue
- ``turnq:active``        set of session ids whose queue may be non-empty (sweeper input)
- ``handoff:requested``   set of session ids that asked for a human (staff console)
- ``pii:{sid}:{ref}``     a gift-card code behind ``[giftcard:<ref>]`` (PII_REF_TTL_SECONDS)

Callers may rely on: seqs survive gateway restarts and are strictly increasing per
session; ``admit`` is atomic (dedupe + bound + seq + enqueue), and ``complete`` only
takes effect while the caller still holds the lease, so a worker that lost its lease
can never record or pop a turn; every method raises ``RedisError`` when Redis is down.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

from redis.asyncio import Redis

from gateway.chat.frames import Frame
from gateway.chat.protocol import TurnRecord

# KEYS: turn, seq, queue, active  ARGV: client_msg_id, turn json, queue max, ttl, sid
_ADMIT = """
local seq = redis.call('HGET', KEYS[1], 'seq')
if seq then return {'dup', seq} end
if redis.call('LLEN', KEYS[3]) >= tonumber(ARGV[3]) then return {'full', '0'} end
seq = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'seq', seq, 'state', 'pending', 'turn', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('RPUSH', KEYS[3], ARGV[1])
redis.call('EXPIRE', KEYS[3], ARGV[4])
redis.call('SADD', KEYS[4], ARGV[5])
return {'ok', tostring(seq)}
"""
# KEYS: lease  ARGV: token, ttl ms
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
# KEYS: lease, queue, active  ARGV: token, sid.  Returns the queue length left.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
local left = redis.call('LLEN', KEYS[2])
if left == 0 then redis.call('SREM', KEYS[3], ARGV[2]) end
return left
"""
# KEYS: lease, turn, queue, frames, session, handoff set
# ARGV: token, client_msg_id, state, frames json, retention, ttl, expect_secret,
#       handoff (0/1), sid, frame json...
_COMPLETE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[2], 'state', ARGV[3], 'frames', ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[6])
redis.call('LREM', KEYS[3], 1, ARGV[2])
if #ARGV > 9 then
  redis.call('RPUSH', KEYS[4], unpack(ARGV, 10))
  redis.call('LTRIM', KEYS[4], -tonumber(ARGV[5]), -1)
  redis.call('EXPIRE', KEYS[4], ARGV[6])
end
redis.call('HSET', KEYS[5], 'expect_secret', ARGV[7])
if ARGV[8] == '1' then
  redis.call('HSET', KEYS[5], 'handoff', 'requested')
  redis.call('SADD', KEYS[6], ARGV[9])
end
return 1
"""


@dataclass(frozen=True)
class Admitted:
    seq: int


@dataclass(frozen=True)
class Duplicate:
    seq: int


@dataclass(frozen=True)
class QueueFull:
    pass


class ChatStore:
    def __init__(self, redis: Redis, *, key_prefix: str, retention: int, ttl_seconds: int,
                 queue_max: int = 20) -> None:
        self._redis = redis
        self._prefix = key_prefix
        self._retention = retention
        self._ttl = ttl_seconds
        self._queue_max = queue_max
        self._admit = redis.register_script(_ADMIT)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        self._complete = redis.register_script(_COMPLETE)

    def _key(self, session_id: str, *parts: str) -> str:
        return ":".join((f"{self._prefix}chat", session_id, *parts))

    @property
    def _active_key(self) -> str:
        return f"{self._prefix}turnq:active"

    @property
    def handoff_key(self) -> str:
        return f"{self._prefix}handoff:requested"

    # --- sessions ---------------------------------------------------------------------

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

    async def expecting_secret(self, session_id: str) -> bool:
        return await self._redis.hget(self._key(session_id), "expect_secret") in (b"1", "1")

    async def session_field(self, session_id: str, name: str) -> str | None:
        value = await self._redis.hget(self._key(session_id), name)
        return value.decode() if isinstance(value, bytes) else value

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

    # --- turns and the per-session queue ----------------------------------------------

    async def get_turn(self, session_id: str, client_msg_id: str) -> TurnRecord | None:
        raw = await self._redis.hmget(self._key(session_id, "t", client_msg_id),
                                      ["seq", "state", "frames"])
        if raw[0] is None:
            return None
        return TurnRecord(seq=int(raw[0]), done=raw[1] in (b"done", b"failed"),
                          frames=tuple(json.loads(raw[2])) if raw[2] else ())

    async def queued_turn(self, session_id: str, client_msg_id: str) -> dict[str, object] | None:
        raw = await self._redis.hget(self._key(session_id, "t", client_msg_id), "turn")
        return None if raw is None else dict(json.loads(raw))

    async def admit(
        self, session_id: str, client_msg_id: str, turn: dict[str, object]
    ) -> Admitted | Duplicate | QueueFull:
        """Atomically: dedupe, enforce TURN_QUEUE_MAX, allocate the ack seq, store the
        pending turn and append it to the session's queue."""
        keys = [self._key(session_id, "t", client_msg_id), self._key(session_id, "seq"),
                self._key(session_id, "q"), self._active_key]
        outcome, seq = await self._admit(keys=keys, args=[
            client_msg_id, json.dumps(turn), self._queue_max, self._ttl, session_id])
        kind = outcome.decode() if isinstance(outcome, bytes) else outcome
        if kind == "dup":
            return Duplicate(int(seq))
        if kind == "full":
            return QueueFull()
        return Admitted(int(seq))

    async def queue_head(self, session_id: str) -> str | None:
        head = await self._redis.lindex(self._key(session_id, "q"), 0)
        return head.decode() if isinstance(head, bytes) else head

    async def active_sessions(self) -> list[str]:
        members = await self._redis.smembers(self._active_key)
        return [m.decode() if isinstance(m, bytes) else str(m) for m in members]

    async def acquire_lease(self, session_id: str, token: str, ttl: float) -> bool:
        return bool(await self._redis.set(self._key(session_id, "lease"), token, nx=True,
                                          px=int(ttl * 1000)))

    async def lease_held(self, session_id: str) -> bool:
        return bool(await self._redis.exists(self._key(session_id, "lease")))

    async def renew_lease(self, session_id: str, token: str, ttl: float) -> bool:
        return bool(await self._renew(keys=[self._key(session_id, "lease")],
                                      args=[token, int(ttl * 1000)]))

    async def release_lease(self, session_id: str, token: str) -> int:
        """Give the lease up; returns how many turns are still queued."""
        return int(await self._release(
            keys=[self._key(session_id, "lease"), self._key(session_id, "q"),
                  self._active_key], args=[token, session_id]))

    async def complete(
        self, session_id: str, client_msg_id: str, lease_token: str, replies: list[Frame], *,
        failed: bool = False, expect_secret: bool = False, handoff: bool = False,
    ) -> bool:
        """Record the turn's replies, append them to the frame log and pop the turn,
        all only if ``lease_token`` still holds the lease (False otherwise)."""
        keys = [self._key(session_id, "lease"), self._key(session_id, "t", client_msg_id),
                self._key(session_id, "q"), self._key(session_id, "frames"),
                self._key(session_id), self.handoff_key]
        args: list[str | int] = [
            lease_token, client_msg_id, "failed" if failed else "done", json.dumps(replies),
            self._retention, self._ttl, "1" if expect_secret else "0",
            "1" if handoff else "0", session_id, *(json.dumps(f) for f in replies)]
        return bool(await self._complete(keys=keys, args=args))

    # --- gift-card references ---------------------------------------------------------

    def _pii_key(self, session_id: str, ref: str) -> str:
        return f"{self._prefix}pii:{session_id}:{ref}"

    async def store_refs(self, session_id: str, refs: dict[str, str], ttl: int) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for ref, value in refs.items():
                pipe.set(self._pii_key(session_id, ref), value, ex=ttl)
            await pipe.execute()

    async def resolve_ref(self, session_id: str, ref: str) -> str | None:
        value = await self._redis.get(self._pii_key(session_id, ref))
        return value.decode() if isinstance(value, bytes) else value
