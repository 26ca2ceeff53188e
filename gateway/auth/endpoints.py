"""``POST /auth/token`` and ``POST /auth/refresh`` (thin: all logic in AuthService)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from gateway.auth.schemas import RefreshRequest, TokenPair
from gateway.dependencies import AuthServiceDep

router = APIRouter(prefix="/auth", tags=["auth"])

_PROBLEMS: dict[int | str, dict[str, str]] = {
    401: {"description": "Wrong credentials / refresh token (problem+json)"},
    429: {"description": "Too many failed logins; see Retry-After (problem+json)"},
    503: {"description": "Identity service or store unavailable (problem+json)"},
}


@router.post("/token", responses=_PROBLEMS)
async def issue_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    auth: AuthServiceDep,
    request: Request,
) -> TokenPair:
    # The peer, or the client a trusted proxy names (FORWARDED_ALLOW_IPS only).
    client_ip = request.client.host if request.client else "unknown"
    return await auth.login(form.username, form.password, client_ip)


@router.post("/refresh", responses=_PROBLEMS)
async def refresh_token(body: RefreshRequest, auth: AuthServiceDep) -> TokenPair:
    return await auth.refresh(body.refresh_token)
