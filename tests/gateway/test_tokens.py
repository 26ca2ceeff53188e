"""Access tokens: only our RS256 tokens, with every required claim, are accepted."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest

from gateway.auth.tokens import TokenError, TokenService
from tests.gateway.conftest import AUDIENCE, ISSUER, KEY_ID, make_private_key_pem


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], claims: dict[str, Any], sign: Any = None) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = b64(sign(signing_input.encode())) if sign else ""
    return f"{signing_input}.{signature}"


def issue(service: TokenService, **kw: Any) -> str:
    return service.issue(
        subject="cust-1", username="demo001", display_name="Demo", roles=["customer"], **kw
    )


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def test_round_trip(token_service: TokenService) -> None:
    token = issue(token_service)
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {"alg": "RS256", "kid": KEY_ID, "typ": "JWT"}
    claims = token_service.decode(token)
    assert (claims.sub, claims.roles, claims.name, claims.username) == (
        "cust-1",
        ("customer",),
        "Demo",
        "demo001",
    )
    raw = claims_of(token)
    assert {"sub", "iss", "aud", "exp", "iat", "jti"} <= raw.keys()
    assert raw["exp"] - raw["iat"] == 900
    assert (raw["iss"], raw["aud"]) == (ISSUER, AUDIENCE)
    assert claims_of(issue(token_service))["jti"] != raw["jti"]


def test_alg_none_rejected(token_service: TokenService) -> None:
    claims = claims_of(issue(token_service))
    with pytest.raises(TokenError):
        token_service.decode(forge({"alg": "none", "kid": KEY_ID}, claims))


def test_hs256_signed_with_public_key_rejected(token_service: TokenService) -> None:
    """The classic RS/HS confusion: HMAC keyed with the (public) PEM."""
    key = token_service.public_key_pem.encode()
    claims = claims_of(issue(token_service))
    token = forge(
        {"alg": "HS256", "typ": "JWT", "kid": KEY_ID},
        claims,
        lambda data: hmac.new(key, data, hashlib.sha256).digest(),
    )
    with pytest.raises(TokenError):
        token_service.decode(token)


def test_expired_rejected(token_service: TokenService) -> None:
    with pytest.raises(TokenError):
        token_service.decode(issue(token_service, now=int(time.time()) - 3600))


@pytest.mark.parametrize(("issuer", "audience"), [("other", AUDIENCE), (ISSUER, "other")])
def test_wrong_issuer_or_audience_rejected(
    token_service: TokenService, issuer: str, audience: str
) -> None:
    other = TokenService(
        token_service._private_pem, key_id=KEY_ID, issuer=issuer, audience=audience, ttl_seconds=900
    )
    with pytest.raises(TokenError):
        token_service.decode(issue(other))


def test_other_key_or_kid_rejected(token_service: TokenService) -> None:
    stranger = TokenService(
        make_private_key_pem(), key_id=KEY_ID, issuer=ISSUER, audience=AUDIENCE, ttl_seconds=900
    )
    with pytest.raises(TokenError):
        token_service.decode(issue(stranger))
    other_kid = TokenService(
        token_service._private_pem, key_id="nope", issuer=ISSUER, audience=AUDIENCE, ttl_seconds=900
    )
    with pytest.raises(TokenError):
        token_service.decode(issue(other_kid))


def test_tampered_payload_rejected(token_service: TokenService) -> None:
    header, _, signature = issue(token_service).split(".")
    claims = claims_of(issue(token_service)) | {"sub": "cust-2"}
    with pytest.raises(TokenError):
        token_service.decode(f"{header}.{b64(json.dumps(claims).encode())}.{signature}")


@pytest.mark.parametrize("missing", ["sub", "jti", "iat", "exp"])
def test_missing_required_claim_rejected(token_service: TokenService, missing: str) -> None:
    from jose import jwt

    claims = claims_of(issue(token_service))
    del claims[missing]
    token = jwt.encode(
        claims, token_service._private_pem, algorithm="RS256", headers={"kid": KEY_ID}
    )
    with pytest.raises(TokenError):
        token_service.decode(token)


def test_garbage_rejected(token_service: TokenService) -> None:
    for junk in ["", "a.b.c", "not a token"]:
        with pytest.raises(TokenError):
            token_service.decode(junk)
