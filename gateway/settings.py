"""All gateway configuration, read once from environment variables.

Callers may rely on: every field below maps to the upper-case environment variable of
the same name (e.g. ``redis_url`` <- ``REDIS_URL``); defaults are safe for local
development; ``APP_ENV=production`` refuses to start with the default service token.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SERVICE_TOKEN = "dev-service-token"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    app_env: Literal["development", "test", "production"] = "development"
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8000

    redis_url: str = "redis://127.0.0.1:6379/0"
    # Every Redis key and pub/sub channel starts with this, so tests and several
    # deployments can share one Redis without seeing each other.
    redis_key_prefix: str = "gw:"

    rasa_url: str = "http://127.0.0.1:5005"
    rasa_timeout_seconds: float = 30.0
    core_banking_url: str = "http://127.0.0.1:8001"
    core_banking_timeout_seconds: float = 10.0
    service_token: str = DEFAULT_SERVICE_TOKEN

    jwt_issuer: str = "bank-gateway"
    jwt_audience: str = "bank-api"
    jwt_private_key_file: str = "var/keys/jwt-private.pem"
    jwt_key_id: str = "dev-1"
    access_token_ttl_seconds: int = Field(default=900, gt=0)
    refresh_token_ttl_seconds: int = Field(default=1_209_600, gt=0)

    # Comma separated; kept as a plain string because pydantic-settings would
    # otherwise expect JSON for a list. Use ``allowed_origin_set``.
    allowed_origins: str = "http://localhost:8000,http://127.0.0.1:8000"

    hello_timeout_seconds: float = Field(default=10.0, gt=0)
    max_frame_bytes: int = 16 * 1024
    session_retention_frames: int = 500
    session_ttl_seconds: int = 24 * 3600

    @property
    def allowed_origin_set(self) -> frozenset[str]:
        parts = (o.strip().rstrip("/") for o in self.allowed_origins.split(","))
        return frozenset(p for p in parts if p)

    @model_validator(mode="after")
    def _production_needs_real_secrets(self) -> Settings:
        if self.app_env == "production" and self.service_token in ("", DEFAULT_SERVICE_TOKEN):
            raise ValueError("SERVICE_TOKEN must be set to a non-default value in production")
        return self


@lru_cache
def get_settings() -> Settings:
    """Process-wide settings (tests build their own ``Settings`` instead)."""
    return Settings()
