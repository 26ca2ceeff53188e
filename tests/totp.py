"""RFC 6238 codes for tests, written from the RFC with the standard library only: an
oracle independent of the pyotp that core_banking checks codes with."""

import base64
import hashlib
import hmac
import struct
import time

DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXP"  # CONTRACT.md: every demo customer's authenticator
STEP_SECONDS = 30


def code_at(at: float, secret: str = DEMO_TOTP_SECRET) -> str:
    """The 6-digit code (SHA-1) an authenticator app shows at Unix time `at`."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)
    digest = hmac.new(key, struct.pack(">Q", int(at) // STEP_SECONDS), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def current_code(secret: str = DEMO_TOTP_SECRET) -> str:
    return code_at(time.time(), secret)


def wrong_code(at: float | None = None, secret: str = DEMO_TOTP_SECRET) -> str:
    """A 6-digit code that no step within two of `at` has (so no drift window takes it)."""
    now = time.time() if at is None else at
    near = {code_at(now + STEP_SECONDS * n, secret) for n in range(-2, 3)}
    return next(c for c in ("000000", "111111", "222222", "333333", "444444") if c not in near)
