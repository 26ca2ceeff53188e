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
    # Connections per gateway process; commands beyond them wait up to the timeout.
    redis_max_connections: int = Field(default=100, gt=1)
    redis_pool_timeout_seconds: float = Field(default=5.0, gt=0)

    rasa_url: str = "http://127.0.0.1:5005"
    rasa_timeout_seconds: float = 30.0
    # Rasa's HTTP API (trackers: read for transcripts, emptied on erasure) wants
    # ``?token=``: the value Rasa was started with (``--auth-token``).
    rasa_auth_token: str = "dev-rasa-token"
    # Staff console: a turn whose NLU confidence is below this is flagged low_confidence.
    console_low_confidence: float = Field(default=0.5, ge=0, le=1)
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
    # uvicorn drops (1009) frames above this before the app sees them; kept a little
    # above MAX_FRAME_BYTES so moderately oversized frames get an app-level too_large.
    # 0 = MAX_FRAME_BYTES + 16 KiB.
    ws_max_size_bytes: int = Field(default=0, ge=0)
    session_retention_frames: int = 500
    session_ttl_seconds: int = 24 * 3600

    # Per-turn delegated token relayed to Rasa instead of the customer's own token.
    delegated_token_ttl_seconds: int = Field(default=120, gt=0)

    # Cross-instance turn queue: one worker per session holds a Redis lease.
    turn_queue_max: int = Field(default=20, gt=0)
    turn_lease_seconds: float = Field(default=15.0, gt=0)
    # How often each instance looks for sessions with queued turns and no worker
    # (a crashed instance's sessions are picked up within lease + this).
    turn_sweep_interval_seconds: float = Field(default=5.0, gt=0)

    # Rasa degradation: "still working" notice after the soft timeout, then retry
    # failed calls in the background with exponential backoff for the retry window.
    rasa_soft_timeout_seconds: float = Field(default=5.0, gt=0)
    rasa_retry_window_seconds: float = Field(default=120.0, ge=0)
    rasa_retry_initial_backoff_seconds: float = Field(default=1.0, gt=0)
    rasa_retry_max_backoff_seconds: float = Field(default=15.0, gt=0)

    # Token buckets (Redis, shared by all instances): N messages per window.
    rate_session_messages: int = Field(default=10, gt=0)
    rate_session_window_seconds: float = Field(default=10.0, gt=0)
    rate_user_messages: int = Field(default=30, gt=0)
    rate_user_window_seconds: float = Field(default=10.0, gt=0)
    max_sockets_per_user: int = Field(default=10, gt=0)
    idle_timeout_seconds: float = Field(default=300.0, gt=0)

    # Gift-card codes are replaced by references resolvable for this long.
    pii_ref_ttl_seconds: int = Field(default=900, gt=0)

    # Where finished turns are recorded (SQLAlchemy async URL).
    transcript_database_url: str = "sqlite+aiosqlite:///var/transcripts.sqlite3"

    @property
    def allowed_origin_set(self) -> frozenset[str]:
        parts = (o.strip().rstrip("/") for o in self.allowed_origins.split(","))
        return frozenset(p for p in parts if p)

    @property
    def ws_max_size(self) -> int:
        return self.ws_max_size_bytes or self.max_frame_bytes + 16 * 1024

    def uvicorn_ws_options(self) -> dict[str, object]:
        """uvicorn settings the chat relies on (``python -m gateway`` applies them):
        frames above ``ws_max_size`` are dropped by the server with 1009; no
        per-message deflate (its memory per socket is unbounded by MAX_FRAME_BYTES and
        compression bombs would bypass the size check); transport pings every 20 s."""
        return {"ws_max_size": self.ws_max_size, "ws_per_message_deflate": False,
                "ws_ping_interval": 20.0, "ws_ping_timeout": 20.0}

    @model_validator(mode="after")
    def _production_needs_real_secrets(self) -> Settings:
        if self.app_env == "production" and self.service_token in ("", DEFAULT_SERVICE_TOKEN):
            raise ValueError("SERVICE_TOKEN must be set to a non-default value in production")
        return self


@lru_cache
def get_settings() -> Settings:
    """Process-wide settings (tests build their own ``Settings`` instead)."""
    return Settings()
