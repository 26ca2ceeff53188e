"""All gateway configuration, read once from environment variables.

Callers may rely on: every field below maps to the upper-case environment variable of
the same name (e.g. ``redis_url`` <- ``REDIS_URL``); defaults are safe for local
development; ``APP_ENV=production`` refuses to start with the default service token.
"""

from __future__ import annotations

import base64
from functools import lru_cache
from typing import Any, Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.fieldcrypt import parse_index_keys, parse_keys

DEFAULT_SERVICE_TOKEN = "dev-service-token"
DEFAULT_RASA_AUTH_TOKEN = "dev-rasa-token"
# A Fernet key (32 random bytes, urlsafe base64) for development and tests only.
DEFAULT_CHAT_CREDENTIAL_KEY = "ZGV2LWNoYXQtY3JlZGVudGlhbC1rZXktMzItYnl0ZXM="
# AES-256 and HMAC keys for transcripts at rest, development and tests only (refused in
# production): base64 of b"dev-data-encryption-key-32-bytes" / b"dev-data-blind-index-key-32bytes".
DEFAULT_DATA_ENCRYPTION_KEY = "ZGV2LWRhdGEtZW5jcnlwdGlvbi1rZXktMzItYnl0ZXM="
DEFAULT_DATA_ENCRYPTION_KEYS = f"dev:{DEFAULT_DATA_ENCRYPTION_KEY}"
DEFAULT_DATA_INDEX_KEY = "ZGV2LWRhdGEtYmxpbmQtaW5kZXgta2V5LTMyYnl0ZXM="


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
    # Rasa's HTTP API (``?token=``) and its REST channel (``X-Rasa-Token``) refuse
    # callers without it; the same value is given to Rasa (``bot/server.py``).
    rasa_auth_token: str = DEFAULT_RASA_AUTH_TOKEN
    rasa_timeout_seconds: float = 30.0
    # Staff console: a turn whose NLU confidence is below this is flagged low_confidence.
    console_low_confidence: float = Field(default=0.5, ge=0, le=1)
    # A request for a person nobody takes within this long is ended and the customer
    # told the assistant is back (``console/expiry.py``); 0 keeps requests forever.
    handoff_queue_ttl_seconds: int = Field(default=900, ge=0)
    handoff_sweep_seconds: float = Field(default=5.0, gt=0)
    # On shutdown, requests still running after this long are cancelled: the console's
    # event streams never finish by themselves (sockets are closed by uvicorn at once).
    shutdown_grace_seconds: int = Field(default=5, ge=1)
    core_banking_url: str = "http://127.0.0.1:8001"
    core_banking_timeout_seconds: float = 10.0
    # Idle pooled connections to core_banking are dropped after this long: under the
    # 5 s after which its uvicorn closes them (timeout_keep_alive). As long as the
    # server's, a reused connection raced the server's close: a login failed with
    # "identity service unreachable" (503) in the conversation suite.
    core_banking_keepalive_seconds: float = Field(default=2.0, gt=0, lt=5.0)
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

    # Per-turn delegated token relayed to Rasa instead of the customer's own token:
    # its own audience (refused by /ws), sealed with CHAT_CREDENTIAL_KEY (see
    # ``chat/credentials.py``), valid for this long.
    delegated_token_ttl_seconds: int = Field(default=60, gt=0)
    delegated_audience: str = "bank-chat"
    # Comma separated Fernet keys shared with the action server: the first seals, all
    # open (rotation: put the new key first, drop the old one after the TTL).
    chat_credential_key: str = DEFAULT_CHAT_CREDENTIAL_KEY

    # Login throttling (Redis, all instances): failed logins per username and per
    # client IP within the window; past the limit /auth/token answers 429 until the
    # window of the first counted failure ends.
    login_window_seconds: int = Field(default=900, gt=0)
    login_max_failures_per_account: int = Field(default=30, gt=0)
    login_max_failures_per_ip: int = Field(default=100, gt=0)
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (uvicorn's
    # forwarded_allow_ips: comma separated IPs or "*"); empty: none, the peer address
    # is the client (make run-scaled sets it for its HAProxy).
    forwarded_allow_ips: str = ""

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
    # Transcript text and customer names in it are encrypted at rest
    # (gateway/fieldcrypt.py): ``kid:base64 32-byte key`` pairs, comma separated, the
    # first encrypts, all decrypt; rotate with ``python -m gateway.transcripts.rekey``.
    data_encryption_keys: str = DEFAULT_DATA_ENCRYPTION_KEYS
    # HMAC keys of the blind index on customer names (the console's customer filter):
    # ``kid:base64 key`` pairs, the first makes new indexes, lookups match under all;
    # rotate with ``python -m gateway.transcripts.rekey``.
    data_index_keys: str = ""
    # The one index key from before DATA_INDEX_KEYS, without a key id (bare indexes),
    # still read after DATA_INDEX_KEYS' keys until the rekey has moved its indexes.
    # Neither set: the development key.
    data_index_key: str = ""
    # Transcript rows and Rasa's events older than this are deleted (hourly, by any
    # instance); Rasa's trackers expire in Redis after RASA_TRACKER_TTL_SECONDS.
    transcript_retention_days: int = Field(default=90, gt=0)

    # Rasa's event broker (bot/endpoints.yml reads the same variables): the turn NLU in
    # transcripts comes from the events Rasa publishes there (transcripts/broker.py).
    # Off: no consumer runs in this process (a separate one does, or none).
    rasa_events_consumer: bool = True
    rabbitmq_host: str = "127.0.0.1"
    rabbitmq_port: int = 5672
    rabbitmq_username: str = "guest"
    rabbitmq_password: str = "guest"
    rasa_events_exchange: str = "rasa-events"
    rasa_events_queue: str = "rasa-events-transcripts"

    @property
    def allowed_origin_set(self) -> frozenset[str]:
        parts = (o.strip().rstrip("/") for o in self.allowed_origins.split(","))
        return frozenset(p for p in parts if p)

    @property
    def ws_max_size(self) -> int:
        return self.ws_max_size_bytes or self.max_frame_bytes + 16 * 1024

    def uvicorn_options(self) -> dict[str, Any]:
        """uvicorn settings the gateway relies on (``python -m gateway`` applies them):
        frames above ``ws_max_size`` are dropped by the server with 1009; no
        per-message deflate (its memory per socket is unbounded by MAX_FRAME_BYTES and
        compression bombs would bypass the size check); transport pings every 20 s;
        X-Forwarded-For believed only from FORWARDED_ALLOW_IPS (uvicorn would trust
        127.0.0.1 by default, so any local process could choose its address); on
        shutdown, open responses (console event streams) are cut after
        SHUTDOWN_GRACE_SECONDS instead of being waited for."""
        return {
            "ws_max_size": self.ws_max_size,
            "ws_per_message_deflate": False,
            "ws_ping_interval": 20.0,
            "ws_ping_timeout": 20.0,
            "proxy_headers": bool(self.forwarded_allow_ips),
            "forwarded_allow_ips": self.forwarded_allow_ips or None,
            "timeout_graceful_shutdown": self.shutdown_grace_seconds,
        }

    @model_validator(mode="after")
    def _production_needs_real_secrets(self) -> Settings:
        # Malformed data keys fail at startup, not at the first transcript written.
        data_keys = parse_keys(self.data_encryption_keys)
        index_keys = parse_index_keys(self.index_keys)
        if self.app_env != "production":
            return self
        if any(key == base64.b64decode(DEFAULT_DATA_ENCRYPTION_KEY) for _, key in data_keys):
            raise ValueError("DATA_ENCRYPTION_KEYS must not hold the development key in production")
        if any(key == base64.b64decode(DEFAULT_DATA_INDEX_KEY) for _, key in index_keys):
            raise ValueError(
                "DATA_INDEX_KEYS (or DATA_INDEX_KEY) must be set to non-default keys in production"
            )
        defaults = {
            "SERVICE_TOKEN": (self.service_token, DEFAULT_SERVICE_TOKEN),
            "RASA_AUTH_TOKEN": (self.rasa_auth_token, DEFAULT_RASA_AUTH_TOKEN),
            "CHAT_CREDENTIAL_KEY": (self.chat_credential_key, DEFAULT_CHAT_CREDENTIAL_KEY),
        }
        for name, (value, default) in defaults.items():
            if value in ("", default) or default in value.split(","):
                raise ValueError(f"{name} must be set to a non-default value in production")
        return self

    @property
    def index_keys(self) -> str:
        """The blind index keys in force: DATA_INDEX_KEYS, then DATA_INDEX_KEY."""
        given = [spec.strip() for spec in (self.data_index_keys, self.data_index_key)]
        return ",".join(spec for spec in given if spec) or DEFAULT_DATA_INDEX_KEY


@lru_cache
def get_settings() -> Settings:
    """Process-wide settings (tests build their own ``Settings`` instead)."""
    return Settings()
