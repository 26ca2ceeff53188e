"""Failed-login throttling, shared by every gateway instance through Redis.

Callers may rely on: ``check`` raises ``TooManyLoginAttempts`` (429, ``Retry-After``
in seconds) once LOGIN_MAX_FAILURES_PER_ACCOUNT failures for that username, or
LOGIN_MAX_FAILURES_PER_IP from that client address, were counted within
LOGIN_WINDOW_SECONDS of the first of them; it then refuses the right password too, so
guessing cannot go on by luck. The window is fixed from its first failure, so the
account opens again at the latest one window after it was locked. ``failed`` counts
one failure for both keys; ``succeeded`` clears the username's count (a customer
who mistypes now and then never drifts towards a lockout). Usernames are counted
case-insensitively and hashed, so Redis holds no list of tried names.
"""

from __future__ import annotations

import hashlib

from redis.asyncio import Redis

from gateway.problems import TooManyLoginAttempts

# KEYS: account key, ip key; ARGV: window seconds. Counts one failure for both.
_COUNT = """
for _, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then redis.call('EXPIRE', key, ARGV[1]) end
end
return 1
"""


class LoginThrottle:
    def __init__(
        self,
        redis: Redis,
        *,
        key_prefix: str,
        window_seconds: int,
        max_per_account: int,
        max_per_ip: int,
    ) -> None:
        self._redis = redis
        self._prefix = key_prefix
        self._window = window_seconds
        self._max = {"account": max_per_account, "ip": max_per_ip}
        self._count = redis.register_script(_COUNT)

    def _keys(self, username: str, client_ip: str) -> dict[str, str]:
        account = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
        return {
            "account": f"{self._prefix}login:acct:{account}",
            "ip": f"{self._prefix}login:ip:{client_ip}",
        }

    async def check(self, username: str, client_ip: str) -> None:
        keys = self._keys(username, client_ip)
        counts = await self._redis.mget(list(keys.values()))
        for (kind, key), count in zip(keys.items(), counts, strict=True):
            if count is not None and int(count) >= self._max[kind]:
                ttl = await self._redis.ttl(key)
                raise TooManyLoginAttempts(max(int(ttl), 1))

    async def failed(self, username: str, client_ip: str) -> None:
        await self._count(keys=list(self._keys(username, client_ip).values()), args=[self._window])

    async def succeeded(self, username: str, client_ip: str) -> None:
        await self._redis.delete(self._keys(username, client_ip)["account"])
