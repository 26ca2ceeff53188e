"""``GET /health``: 200 when Redis answers, 503 problem+json otherwise."""

from __future__ import annotations

from fastapi import APIRouter
from redis.exceptions import RedisError

from gateway.dependencies import RedisDep
from gateway.problems import StoreUnavailable

router = APIRouter(tags=["health"])


@router.get("/health", responses={503: {"description": "Redis unreachable (problem+json)"}})
async def health(redis: RedisDep) -> dict[str, str]:
    try:
        await redis.ping()
    except (RedisError, OSError) as exc:
        raise StoreUnavailable("Redis does not answer") from exc
    return {"status": "ok"}
