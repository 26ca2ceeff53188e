"""Service-to-service identity API used by the gateway's login; never exposed to clients."""

from __future__ import annotations

from fastapi import APIRouter, Request

from core_banking.db import AsyncSessionDep
from core_banking.identity import service, throttle
from core_banking.identity.schemas import VerifiedIdentity, VerifyCredentials
from core_banking.problems import InvalidCredentials
from core_banking.security import ServiceCaller, SettingsDep, client_ip

router = APIRouter(prefix="/internal/auth", tags=["internal"], dependencies=[ServiceCaller])


@router.post("/verify", response_model=VerifiedIdentity, responses={401: {}, 429: {}})
async def verify(
    body: VerifyCredentials, session: AsyncSessionDep, settings: SettingsDep, request: Request
) -> VerifiedIdentity:
    ip = body.client_ip or client_ip(request)
    await throttle.ensure_not_locked(session, settings, body.username, ip)
    try:
        return await service.verify_credentials(session, body.username, body.password)
    except InvalidCredentials:
        await throttle.record_failure(request.app.state.sessionmaker, body.username, ip)
        raise
