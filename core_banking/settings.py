"""All runtime configuration, read once from environment variables."""

from __future__ import annotations

import base64
import os
from enum import Enum
from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core_banking.fieldcrypt import parse_index_keys, parse_keys

DEFAULT_SERVICE_TOKEN = "dev-service-token"
DEFAULT_GIFT_CARD_CODE_KEY = "dev-gift-card-code-key"
# A published Fernet key: development and tests only (refused in production).
DEFAULT_STEP_UP_ENCRYPTION_KEY = "GdDYHp6fywLPIIBnM9Uvw0KRIO62wvQYr9MIdFrdIX0="
# Published AES-256 and HMAC keys for personal data at rest: development and tests only
# (refused in production). base64 of b"dev-data-encryption-key-32-bytes" and
# b"dev-data-blind-index-key-32bytes".
DEFAULT_DATA_ENCRYPTION_KEY = "ZGV2LWRhdGEtZW5jcnlwdGlvbi1rZXktMzItYnl0ZXM="
DEFAULT_DATA_ENCRYPTION_KEYS = f"dev:{DEFAULT_DATA_ENCRYPTION_KEY}"
DEFAULT_DATA_INDEX_KEY = "ZGV2LWRhdGEtYmxpbmQtaW5kZXgta2V5LTMyYnl0ZXM="


class Environment(str, Enum):
    development = "development"
    test = "test"
    production = "production"


class Settings(BaseSettings):
    # No env_prefix: the variable names are shared with the other services (interfaces.md).
    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    app_env: Environment = Environment.development
    database_url: str = "sqlite:///var/core_banking.sqlite3"
    database_echo: bool = False
    # Connection pool per process (PostgreSQL). A request holds one connection for its
    # transaction; size + overflow bounds the concurrent transactions of one process.
    database_pool_size: int = Field(default=10, ge=1)
    database_max_overflow: int = Field(default=20, ge=0)
    # A pooled connection idle this long is pinged at checkout (core_banking/db.py);
    # one in steady use is not: under load a ping is a sixth round trip per transfer.
    database_idle_ping_seconds: float = Field(default=5.0, ge=0)

    jwt_public_key_file: Path = Path("var/keys/jwt-public.pem")
    jwt_issuer: str = "bank-gateway"
    jwt_audience: str = "bank-api"
    # Tokens the gateway delegates to one chat turn carry this audience instead; they
    # are accepted for customer endpoints (what chat actions call), marked as such.
    jwt_delegated_audience: str = "bank-chat"

    service_token: str = DEFAULT_SERVICE_TOKEN

    # Transfers (core_banking/README.md "Risk rules"). All amounts in minor units.
    daily_transfer_limit_minor: int = Field(default=500_000, ge=0)
    risk_new_payee_threshold_minor: int = Field(default=20_000, ge=0)
    risk_large_amount_minor: int = Field(default=50_000, ge=0)
    risk_large_multiplier: int = Field(default=3, ge=1)
    risk_velocity_max_transfers: int = Field(default=5, ge=0)
    risk_velocity_window_seconds: int = Field(default=600, ge=1)
    # How long a held transfer waits for step-up; its hold ends then (database clock).
    confirmation_code_ttl_seconds: int = Field(default=900, ge=1)
    confirmation_max_attempts: int = Field(default=3, ge=1)
    # How often each process marks expired holds (and cancels their transfers); 0: never.
    # Money never waits for it: an expired hold stops counting at read time.
    hold_sweep_interval_seconds: float = Field(default=60, ge=0)

    # Step-up (TOTP, RFC 6238). Comma-separated Fernet keys: the first encrypts, all
    # decrypt (MultiFernet), so a key is rotated by putting a new one first.
    step_up_encryption_keys: str = DEFAULT_STEP_UP_ENCRYPTION_KEY
    # Personal data at rest (core_banking/fieldcrypt.py): ``kid:base64 32-byte key`` pairs,
    # comma separated; the first encrypts, all decrypt. Rotation: put a new key first,
    # run ``python -m core_banking.rekey``, then drop the old one (docs/operations.md).
    data_encryption_keys: str = DEFAULT_DATA_ENCRYPTION_KEYS
    # HMAC keys of the blind indexes (payees.iban_index,
    # ledger_entries.counterparty_number_index): ``kid:base64 key`` pairs, comma separated;
    # the first makes new indexes, lookups match under all. Rotation as for the data keys.
    data_index_keys: str = ""
    # The one index key from before DATA_INDEX_KEYS, without a key id (its indexes are
    # bare hex). Still read, after DATA_INDEX_KEYS' keys, so the indexes it made keep
    # matching until the rekey has moved them. Neither set: the development key.
    data_index_key: str = ""
    step_up_totp_issuer: str = "Bank"  # the name authenticator apps show
    idempotency_ttl_hours: int = Field(default=48, ge=24)
    # Retries of a whole money-moving transaction on PostgreSQL 40001/40P01.
    transaction_max_attempts: int = Field(default=6, ge=1)

    # Gift cards.
    gift_card_code_key: str = DEFAULT_GIFT_CARD_CODE_KEY
    gift_card_validity_days: int = Field(default=365, ge=1)
    gift_card_lookup_max_failures: int = Field(default=5, ge=1)
    gift_card_lookup_window_seconds: int = Field(default=900, ge=1)

    # Login throttle of /internal/auth/verify (core_banking/README.md "Login").
    login_window_seconds: int = Field(default=900, ge=1)
    login_max_failures_per_account: int = Field(default=30, ge=1)
    login_max_failures_per_ip: int = Field(default=100, ge=1)

    # Proxies whose X-Forwarded-For is believed (uvicorn's forwarded_allow_ips: comma
    # separated IPs or "*"); empty: none, the peer address is the client.
    forwarded_allow_ips: str = ""

    core_banking_host: str = "127.0.0.1"
    core_banking_port: int = Field(default=8001, ge=1, le=65535)
    # uvicorn worker processes of `python -m core_banking` (and bench/ledger.py): one per
    # core by default. Each has its own connection pool (DATABASE_POOL_SIZE + overflow).
    core_banking_workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)

    @model_validator(mode="after")
    def _production_needs_real_secrets(self) -> Settings:
        # A well-known default token in production would let anyone verify passwords.
        if self.is_production and self.service_token in ("", DEFAULT_SERVICE_TOKEN):
            raise ValueError("SERVICE_TOKEN must be set to a non-default value in production")
        # Both keys protect hashes of short secrets: with a public key they brute-force.
        if self.is_production and self.gift_card_code_key in ("", DEFAULT_GIFT_CARD_CODE_KEY):
            raise ValueError("GIFT_CARD_CODE_KEY must be set to a non-default value in production")
        # The step-up secrets would be readable by anyone with the database and this file.
        keys = [k.strip() for k in self.step_up_encryption_keys.split(",") if k.strip()]
        if self.is_production and (not keys or DEFAULT_STEP_UP_ENCRYPTION_KEY in keys):
            raise ValueError(
                "STEP_UP_ENCRYPTION_KEYS must be set to non-default Fernet keys in production"
            )
        # Malformed keys fail at startup, not at the first request that reads a name.
        data_keys = parse_keys(self.data_encryption_keys)
        index_keys = parse_index_keys(self.index_keys)
        if self.is_production and any(
            key == base64.b64decode(DEFAULT_DATA_ENCRYPTION_KEY) for _, key in data_keys
        ):
            raise ValueError("DATA_ENCRYPTION_KEYS must not hold the development key in production")
        if self.is_production and any(
            key == base64.b64decode(DEFAULT_DATA_INDEX_KEY) for _, key in index_keys
        ):
            raise ValueError(
                "DATA_INDEX_KEYS (or DATA_INDEX_KEY) must be set to non-default keys in production"
            )
        return self

    @property
    def index_keys(self) -> str:
        """The blind index keys in force: DATA_INDEX_KEYS, then DATA_INDEX_KEY."""
        given = [spec.strip() for spec in (self.data_index_keys, self.data_index_key)]
        return ",".join(spec for spec in given if spec) or DEFAULT_DATA_INDEX_KEY

    @property
    def is_production(self) -> bool:
        return self.app_env == Environment.production

    @property
    def async_database_url(self) -> str:
        return to_async_url(self.database_url)


def to_async_url(url: str) -> str:
    """Map the documented (sync-looking) DATABASE_URL onto an async driver.

    Operators write `sqlite:///path` or `postgresql://...`; request paths need async drivers,
    so we pick aiosqlite / psycopg 3 (which is async-capable under the same dialect name).
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"DATABASE_URL has no scheme: {url!r}")
    base = scheme.split("+", 1)[0]
    if base == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    if base in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    raise ValueError(f"unsupported DATABASE_URL scheme: {scheme!r}")


@lru_cache
def get_settings() -> Settings:
    return Settings()
