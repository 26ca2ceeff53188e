"""Argon2id password hashing. Verification runs in a worker thread: it is CPU-bound by design."""

from __future__ import annotations

from functools import lru_cache

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2-cffi defaults (RFC 9106 low-memory profile)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _verify_sync(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("not-a-real-password")


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-ish time: an unknown user still costs one argon2 verification.

    Otherwise response time would tell an attacker which usernames exist.
    """
    if password_hash is None:
        await anyio.to_thread.run_sync(_verify_sync, _dummy_hash(), password)
        return False
    return await anyio.to_thread.run_sync(_verify_sync, password_hash, password)
