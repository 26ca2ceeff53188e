"""FastAPI dependencies: typed access to the objects built once in the app lifespan."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from redis.asyncio import Redis

from gateway.auth.service import AuthService


def get_redis(request: Request) -> Redis:
    redis: Redis = request.app.state.redis
    return redis


def get_auth_service(request: Request) -> AuthService:
    service: AuthService = request.app.state.auth_service
    return service


RedisDep = Annotated[Redis, Depends(get_redis)]
AuthServiceDep = Annotated[AuthService, Depends(get_auth_service)]
