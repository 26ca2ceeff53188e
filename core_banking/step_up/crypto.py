"""Step-up secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) with rotation."""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, MultiFernet

from core_banking.settings import Settings


@lru_cache(maxsize=4)
def _multi(keys: str) -> MultiFernet:
    return MultiFernet([Fernet(k.strip()) for k in keys.split(",") if k.strip()])


def encrypt(settings: Settings, secret: str) -> str:
    return _multi(settings.step_up_encryption_keys).encrypt(secret.encode()).decode()


def decrypt(settings: Settings, token: str) -> str:
    return _multi(settings.step_up_encryption_keys).decrypt(token.encode()).decode()
