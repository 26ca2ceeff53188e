"""Login and refresh-token rotation.

Callers may rely on:
- Refresh tokens are opaque random strings. Redis holds only their SHA-256 under
  ``{prefix}rt:{hash}`` with a TTL of REFRESH_TOKEN_TTL_SECONDS, so a Redis dump
  does not leak usable tokens.
- ``refresh`` consumes the token atomically (GETDEL): each refresh token works exactly
  once, even under concurrent use; a used, expired or unknown one raises
  ``InvalidRefreshToken``.
"""

from __future__ import annotations

import hashlib
import secrets

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.auth.schemas import Identity, TokenPair
from gateway.auth.throttle import LoginThrottle
from gateway.auth.tokens import TokenService
from gateway.identity_client import IdentityClient
from gateway.problems import InvalidCredentials, InvalidRefreshToken, StoreUnavailable


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AuthService:
    def __init__(
        self,
        *,
        tokens: TokenService,
        identity: IdentityClient,
        redis: Redis,
        key_prefix: str,
        refresh_ttl_seconds: int,
        throttle: LoginThrottle,
    ) -> None:
        self._tokens = tokens
        self._throttle = throttle
        self._identity = identity
        self._redis = redis
        self._prefix = key_prefix
        self._refresh_ttl = refresh_ttl_seconds

    def _key(self, refresh_token: str) -> str:
        return f"{self._prefix}rt:{_hash(refresh_token)}"

    async def login(self, username: str, password: str, client_ip: str) -> TokenPair:
        """Raises ``TooManyLoginAttempts`` while the username or the address is locked
        (see ``throttle.py``), before the password is even checked."""
        try:
            await self._throttle.check(username, client_ip)
        except RedisError as exc:
            raise StoreUnavailable() from exc
        try:
            identity = await self._identity.verify(username, password, client_ip)
        except InvalidCredentials:
            try:
                await self._throttle.failed(username, client_ip)
            except RedisError as exc:
                raise StoreUnavailable() from exc
            raise
        try:
            await self._throttle.succeeded(username, client_ip)
        except RedisError as exc:
            raise StoreUnavailable() from exc
        return await self._issue_pair(identity)

    async def refresh(self, refresh_token: str) -> TokenPair:
        try:
            stored = await self._redis.getdel(self._key(refresh_token))
        except RedisError as exc:
            raise StoreUnavailable() from exc
        if stored is None:
            # TODO(later): remember used tokens per family to detect reuse and revoke
            # the whole family (RFC 6819 5.2.2.3); for now reuse simply fails.
            raise InvalidRefreshToken()
        return await self._issue_pair(Identity.model_validate_json(stored))

    async def _issue_pair(self, identity: Identity) -> TokenPair:
        access = self._tokens.issue(
            subject=identity.subject,
            username=identity.username,
            display_name=identity.display_name,
            roles=identity.roles,
        )
        refresh = secrets.token_urlsafe(32)
        try:
            await self._redis.set(
                self._key(refresh), identity.model_dump_json(), ex=self._refresh_ttl
            )
        except RedisError as exc:
            raise StoreUnavailable() from exc
        return TokenPair(
            access_token=access, expires_in=self._tokens.ttl_seconds, refresh_token=refresh
        )
