"""Gift card codes: 95 random bits as 19 Crockford base32 characters plus one check
character (Luhn mod 32), shown as XXXX-XXXX-XXXX-XXXX-XXXX.

Crockford's alphabet has no I, L, O or U, and reading I/L as 1 and O as 0 forgives the
usual misreadings. The check character catches every single-character typo and every
swap of two neighbours before the database is asked. Only an HMAC-SHA256 of the
normalised code (keyed with GIFT_CARD_CODE_KEY) is stored, so a database dump alone does
not reveal spendable codes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
DATA_CHARS = 19  # 19 x 5 = 95 random bits
GROUP = 4
_DECODE = {ch: i for i, ch in enumerate(ALPHABET)}
_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})


def _luhn_sum(symbols: str, double_first: bool) -> int:
    total, double = 0, double_first
    for ch in reversed(symbols):
        value = _DECODE[ch] * (2 if double else 1)
        total += value // 32 + value % 32
        double = not double
    return total


def check_character(data: str) -> str:
    return ALPHABET[(32 - _luhn_sum(data, double_first=True) % 32) % 32]


def generate() -> str:
    """A new code in display form."""
    value = secrets.randbits(DATA_CHARS * 5)
    data = "".join(ALPHABET[(value >> (5 * i)) & 31] for i in range(DATA_CHARS))
    return display(data + check_character(data))


def display(normalised: str) -> str:
    return "-".join(normalised[i : i + GROUP] for i in range(0, len(normalised), GROUP))


def normalise(code: str) -> str | None:
    """The canonical 20-character form, or None if this cannot be a valid code."""
    compact = code.upper().replace("-", "").replace(" ", "").translate(_ALIASES)
    if len(compact) != DATA_CHARS + 1 or any(ch not in _DECODE for ch in compact):
        return None
    if _luhn_sum(compact, double_first=False) % 32 != 0:
        return None
    return compact


def code_hash(key: str, normalised: str) -> str:
    return hmac.new(key.encode(), normalised.encode(), hashlib.sha256).hexdigest()
