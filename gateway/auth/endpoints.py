"""``POST /auth/token`` and ``POST /auth/refresh`` (thin: all logic in AuthService)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm

from gateway.auth.schemas import RefreshRequest, TokenPair
from gateway.dependencies import AuthServiceDep

router = APIRouter(prefix="/auth", tags=["auth"])

_PROBLEMS: dict[int | str, dict[str, str]] = {
    401: {"description": "Wrong credentials / refresh token (problem+json)"},
    503: {"description": "Identity service or store unavailable (problem+json)"},
}


@router.post("/token", responses=_PROBLEMS)
async def issue_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], auth: AuthServiceDep
) -> TokenPair:
    return await auth.login(form.username, form.password)


@router.post("/refresh", responses=_PROBLEMS)
async def refresh_token(body: RefreshRequest, auth: AuthServiceDep) -> TokenPair:
    return await auth.refresh(body.refresh_token)
