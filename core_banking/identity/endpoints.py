"""Service-to-service identity API used by the gateway's login; never exposed to clients."""

from __future__ import annotations

from fastapi import APIRouter

from core_banking.db import AsyncSessionDep
from core_banking.identity import service
from core_banking.identity.schemas import VerifiedIdentity, VerifyCredentials
from core_banking.security import ServiceCaller

router = APIRouter(prefix="/internal/auth", tags=["internal"], dependencies=[ServiceCaller])


@router.post("/verify", response_model=VerifiedIdentity)
async def verify(body: VerifyCredentials, session: AsyncSessionDep) -> VerifiedIdentity:
    return await service.verify_credentials(session, body.username, body.password)
