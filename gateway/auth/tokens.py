"""The one module that touches python-jose: signing and verifying access tokens.

Callers may rely on:
- ``issue`` returns an RS256 JWT whose header carries ``kid`` and whose claims are
  ``sub, iss, aud, exp, iat, jti, roles, name, username``; ``ttl_seconds`` overrides
  the lifetime and ``audience`` the ``aud`` (the chat mints short per-turn tokens for
  the delegated audience this way, each with a new jti).
- ``decode`` accepts only RS256 tokens signed by our key (``kid`` must match), with
  our issuer and audience (never the delegated one), not expired, and carrying every
  required claim; anything
  else raises ``TokenError`` (never a jose exception).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from jose import JWTError, jwt

ALGORITHM = "RS256"
REQUIRED_CLAIMS = ("sub", "iss", "aud", "exp", "iat", "jti")


class TokenError(Exception):
    """The token is not one we issued, or no longer valid."""


@dataclass(frozen=True)
class AccessClaims:
    sub: str
    roles: tuple[str, ...]
    name: str | None
    username: str | None
    jti: str
    exp: int


class TokenService:
    def __init__(
        self, private_key_pem: str, *, key_id: str, issuer: str, audience: str, ttl_seconds: int
    ) -> None:
        key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
        self._private_pem = private_key_pem
        # Verification uses only the public half, exactly as core_banking does.
        self.public_key_pem = (
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        self.key_id = key_id
        self.issuer = issuer
        self.audience = audience
        self.ttl_seconds = ttl_seconds

    @classmethod
    def from_file(
        cls, path: str, *, key_id: str, issuer: str, audience: str, ttl_seconds: int
    ) -> TokenService:
        file = Path(path)
        if not file.is_file():
            raise RuntimeError(
                f"JWT private key not found at {file} (set JWT_PRIVATE_KEY_FILE, or run "
                "scripts/dev_keys.py to create a development key pair)"
            )
        return cls(
            file.read_text(),
            key_id=key_id,
            issuer=issuer,
            audience=audience,
            ttl_seconds=ttl_seconds,
        )

    def issue(
        self,
        *,
        subject: str,
        username: str | None,
        display_name: str | None,
        roles: list[str],
        now: int | None = None,
        ttl_seconds: int | None = None,
        audience: str | None = None,
    ) -> str:
        iat = int(time.time()) if now is None else now
        ttl = self.ttl_seconds if ttl_seconds is None else ttl_seconds
        claims: dict[str, Any] = {
            "sub": subject,
            "iss": self.issuer,
            "aud": audience or self.audience,
            "iat": iat,
            "exp": iat + ttl,
            "jti": uuid.uuid4().hex,
            "roles": list(roles),
            "name": display_name,
            "username": username,
        }
        return jwt.encode(
            claims, self._private_pem, algorithm=ALGORITHM, headers={"kid": self.key_id}
        )

    def decode(self, token: str) -> AccessClaims:
        try:
            header = jwt.get_unverified_header(token)
            if header.get("kid") != self.key_id:
                # One key for now; rotation will map kid -> public key here.
                raise TokenError("unknown key id")
            claims = jwt.decode(
                token,
                self.public_key_pem,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={f"require_{c}": True for c in REQUIRED_CLAIMS},
            )
        except JWTError as exc:
            raise TokenError(str(exc)) from exc
        roles = claims.get("roles") or []
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise TokenError("roles must be a list of strings")
        return AccessClaims(
            sub=str(claims["sub"]),
            roles=tuple(roles),
            name=claims.get("name"),
            username=claims.get("username"),
            jti=str(claims["jti"]),
            exp=int(claims["exp"]),
        )
