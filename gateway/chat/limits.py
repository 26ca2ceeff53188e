"""Cross-instance limits in Redis: message token buckets and open sockets per user.

Callers may rely on:
- ``allow_message`` (or the turn admission script in ``store_scripts.py``, given
  ``message_buckets``) takes one token from the session's bucket and, for customers,
  from the user's bucket, atomically (both or neither), using Redis' clock so every
  instance agrees. Capacity N refills at N per window: bursts up to N, N per window
  sustained.
- ``open_socket`` admits a socket while the user has fewer than MAX_SOCKETS_PER_USER
  live entries. Entries expire ``SOCKET_ENTRY_SECONDS`` after their last refresh, so
  a crashed instance's sockets stop counting within that time; live instances
  refresh theirs (``refresh_sockets``) well within it.
- Every method raises ``RedisError`` when Redis is down.

Keys: ``rl:s:{sid}`` / ``rl:u:{sub}`` (hash tokens, ts), ``sockets:{sub}`` (zset
socket id -> expiry ms).
"""

from __future__ import annotations

from redis.asyncio import Redis

SOCKET_ENTRY_SECONDS = 90.0
SOCKET_REFRESH_SECONDS = 30.0
BUCKET_NAMES = ("session", "user")

# take_tokens(first_key, first_arg, n): KEYS[first_key .. first_key+n-1] are buckets,
# ARGV from first_arg holds (capacity, window ms) per bucket. Returns 0 when a token was
# taken from every bucket, else the 1-based index of the first empty one (nothing
# taken). Shared with the turn admission script (``store_scripts.py``), which runs it in the
# same round trip as the rest of the admission.
TAKE_TOKENS_LUA = """
local function take_tokens(first_key, first_arg, n)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local levels = {}
  for i = 1, n do
    local key = KEYS[first_key + i - 1]
    local cap = tonumber(ARGV[first_arg + 2 * i - 2])
    local window = tonumber(ARGV[first_arg + 2 * i - 1])
    local b = redis.call('HMGET', key, 'tokens', 'ts')
    local tokens, ts = tonumber(b[1]) or cap, tonumber(b[2]) or now
    tokens = math.min(cap, tokens + (now - ts) * cap / window)
    if tokens < 1 then return i end
    levels[i] = tokens
  end
  for i = 1, n do
    local key = KEYS[first_key + i - 1]
    redis.call('HSET', key, 'tokens', tostring(levels[i] - 1), 'ts', now)
    redis.call('PEXPIRE', key, ARGV[first_arg + 2 * i - 1])
  end
  return 0
end
"""
# KEYS: buckets...  ARGV: per bucket (capacity, window ms)
_BUCKETS = TAKE_TOKENS_LUA + "return take_tokens(1, 1, #KEYS)"
# KEYS: zset  ARGV: socket id, max, entry ms
_OPEN_SOCKET = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""


class Limits:
    def __init__(
        self,
        redis: Redis,
        *,
        key_prefix: str,
        session_rate: tuple[int, float],
        user_rate: tuple[int, float],
        max_sockets_per_user: int,
    ) -> None:
        self._redis = redis
        self._prefix = key_prefix
        self._session_rate = session_rate
        self._user_rate = user_rate
        self._max_sockets = max_sockets_per_user
        self._buckets = redis.register_script(_BUCKETS)
        self._open_socket = redis.register_script(_OPEN_SOCKET)

    def message_buckets(self, session_id: str, user: str | None) -> tuple[list[str], list[int]]:
        """The buckets one message is charged to: keys, and (capacity, window ms) per
        key, as ``TAKE_TOKENS_LUA`` reads them. Index 1 is ``session``, 2 ``user``."""
        keys = [f"{self._prefix}rl:s:{session_id}"]
        rates = [self._session_rate]
        if user is not None:
            keys.append(f"{self._prefix}rl:u:{user}")
            rates.append(self._user_rate)
        return keys, [v for n, window in rates for v in (n, int(window * 1000))]

    async def allow_message(self, session_id: str, user: str | None) -> str | None:
        """None if allowed, else which limit was hit: ``session`` or ``user``."""
        keys, args = self.message_buckets(session_id, user)
        hit = int(await self._buckets(keys=keys, args=args))
        return None if hit == 0 else BUCKET_NAMES[hit - 1]

    def _sockets_key(self, user: str) -> str:
        return f"{self._prefix}sockets:{user}"

    async def open_socket(self, user: str, socket_id: str) -> bool:
        return bool(
            await self._open_socket(
                keys=[self._sockets_key(user)],
                args=[socket_id, self._max_sockets, int(SOCKET_ENTRY_SECONDS * 1000)],
            )
        )

    async def close_socket(self, user: str, socket_id: str) -> None:
        await self._redis.zrem(self._sockets_key(user), socket_id)

    async def refresh_sockets(self, sockets: dict[str, str]) -> None:
        """Push the expiry of these live ``socket id -> user`` entries forward."""
        if not sockets:
            return
        now_ms = int(float((await self._redis.time())[0]) * 1000)
        async with self._redis.pipeline(transaction=False) as pipe:
            for socket_id, user in sockets.items():
                key = self._sockets_key(user)
                pipe.zadd(key, {socket_id: now_ms + SOCKET_ENTRY_SECONDS * 1000}, xx=True)
                pipe.pexpire(key, int(SOCKET_ENTRY_SECONDS * 1000))
            await pipe.execute()
