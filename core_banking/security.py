"""Who is calling: customers via the gateway's RS256 JWT, the gateway itself via SERVICE_TOKEN."""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from jose import JWTError, jwk, jwt
from jose.backends.base import Key
from jose.exceptions import JWKError

from core_banking.problems import Forbidden, InvalidToken, Problem, Unauthorized
from core_banking.settings import Settings

ALGORITHM = "RS256"  # pinned: never trust the token header's "alg"
REQUIRED_CLAIMS = ("sub", "iss", "aud", "exp", "iat", "jti")


@dataclass(frozen=True)
class Principal:
    id: str
    roles: frozenset[str]
    username: str | None
    display_name: str | None
    # True for a token the gateway delegated to one chat turn (JWT_DELEGATED_AUDIENCE).
    delegated: bool = False


async def get_settings_dep(request: Request) -> Settings:
    # async: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per
    # request for an attribute read.
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


@lru_cache(maxsize=8)
def _read_public_key(path: Path, _mtime: float) -> Key:
    # Keyed by mtime so a rotated key file is picked up without a restart. The parsed
    # key object is cached, not just the PEM text: jose would re-parse it per request.
    return jwk.construct(path.read_text(), ALGORITHM)


def load_public_key(path: Path) -> Key:
    try:
        return _read_public_key(path, path.stat().st_mtime)
    except (OSError, JWKError) as exc:
        # Misconfiguration, not the caller's fault: a 503, not a 401.
        raise KeyUnavailable(f"JWT public key not readable at {path}") from exc


class KeyUnavailable(Problem):
    status, slug, title = 503, "unavailable", "Service unavailable"


# Verified tokens -> their claims: a client sends the same token with many requests,
# and jose spends ~0.3 ms of Python per verification (py-spy, bench/ledger.py). Keyed by
# the public key object too (a rotated key file is a new object), so nothing verified
# with an old key is reused; expiry is checked again on every use. Bounded: cleared
# when full.
_VERIFIED: dict[tuple[str, Key, str, str, str], dict[str, Any]] = {}
VERIFIED_CACHE_SIZE = 4096


def decode_access_token(token: str, settings: Settings) -> dict[str, Any]:
    """The verified claims of a customer or staff token, or of a chat turn's delegated
    token (``aud`` JWT_DELEGATED_AUDIENCE); any other audience is refused."""
    key = load_public_key(settings.jwt_public_key_file)
    cache_key = (
        token,
        key,
        settings.jwt_issuer,
        settings.jwt_audience,
        settings.jwt_delegated_audience,
    )
    cached = _VERIFIED.get(cache_key)
    if cached is not None:
        if time.time() < cached["exp"]:  # jose checked it is a number
            return dict(cached)
        del _VERIFIED[cache_key]
        raise InvalidToken()
    claims = _verify(token, key, settings)
    if len(_VERIFIED) >= VERIFIED_CACHE_SIZE:
        _VERIFIED.clear()
    _VERIFIED[cache_key] = claims
    return dict(claims)


def _verify(token: str, key: Key, settings: Settings) -> dict[str, Any]:
    options = {f"require_{claim}": True for claim in REQUIRED_CLAIMS}
    # jose checks one audience; which of the two a token has decides which to ask for.
    try:
        unverified = jwt.get_unverified_claims(token)
    except JWTError as exc:
        raise InvalidToken() from exc
    audience = settings.jwt_audience
    if unverified.get("aud") == settings.jwt_delegated_audience:
        audience = settings.jwt_delegated_audience
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=settings.jwt_issuer,
            options=options,
        )
    except JWTError as exc:
        # One message for every failure: which check failed is of no use to a client.
        raise InvalidToken() from exc
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise InvalidToken()
    return claims


_bearer = HTTPBearer(auto_error=False, description="Access token issued by the gateway")


async def get_principal(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise InvalidToken()
    claims = decode_access_token(credentials.credentials, settings)
    roles = claims.get("roles")
    if not isinstance(roles, list):
        raise InvalidToken()
    delegated = claims.get("aud") == settings.jwt_delegated_audience
    if delegated and "customer" not in roles:
        raise InvalidToken()  # the gateway delegates customer turns only
    return Principal(
        id=claims["sub"],
        roles=frozenset(str(r) for r in roles),
        username=claims.get("username"),
        display_name=claims.get("name"),
        delegated=delegated,
    )


async def get_current_customer(
    principal: Annotated[Principal, Depends(get_principal)],
) -> Principal:
    # Staff tokens are valid tokens, just not for customer endpoints.
    if "customer" not in principal.roles:
        raise Forbidden("This endpoint is for customers")
    return principal


CurrentCustomer = Annotated[Principal, Depends(get_current_customer)]


async def get_customer_in_person(customer: CurrentCustomer) -> Principal:
    # A chat turn's delegated token may act for the customer in the chat's tasks, never
    # change how the customer proves who they are (enrol an authenticator app).
    if customer.delegated:
        raise Forbidden("This endpoint needs the customer's own token, not a chat turn's")
    return customer


CustomerInPerson = Annotated[Principal, Depends(get_customer_in_person)]


async def require_service_token(
    settings: SettingsDep,
    x_service_token: Annotated[str | None, Header()] = None,
) -> None:
    # compare_digest: the comparison time must not reveal how much of the token matched.
    supplied = (x_service_token or "").encode()
    if not x_service_token or not hmac.compare_digest(supplied, settings.service_token.encode()):
        raise Unauthorized("Missing or invalid service token")


ServiceCaller = Depends(require_service_token)


def client_ip(request: Request) -> str:
    # The direct peer. Behind the gateway/action server that is their address; see
    # core_banking/README.md (gift-card lockout) for what that means.
    return request.client.host if request.client else "unknown"
