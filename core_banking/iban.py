"""IBAN construction and validation (ISO 13616, mod-97 check digits).

Accounts are numbered as German-format IBANs (DE + 2 check digits + 8-digit bank code +
10-digit account number). Bank codes starting with 9 belong to no German clearing area,
so these numbers are well-formed but cannot collide with a real bank.
"""

from __future__ import annotations

import re
from functools import lru_cache

OUR_BANK_CODE = "99990000"  # this fictional bank
OTHER_BANK_CODE = "99980000"  # a fictional "other bank" used for demo payees

_IBAN_RE = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")


def _as_digits(text: str) -> int:
    # Letters become 10..35 (A=10), per ISO 13616.
    return int("".join(str(int(ch, 36)) for ch in text))


def make_iban(bank_code: str, account_number: str, country: str = "DE") -> str:
    if not (bank_code.isdigit() and len(bank_code) == 8):
        raise ValueError("bank code must be 8 digits")
    if not (account_number.isdigit() and len(account_number) <= 10):
        raise ValueError("account number must be at most 10 digits")
    bban = bank_code + account_number.zfill(10)
    check = 98 - _as_digits(bban + country + "00") % 97
    return f"{country}{check:02d}{bban}"


def is_valid_iban(value: str) -> bool:
    iban = value.replace(" ", "").upper()
    if not _IBAN_RE.match(iban):
        return False
    return _as_digits(iban[4:] + iban[:4]) % 97 == 1


class IbanError(ValueError):
    pass


@lru_cache(maxsize=4096)
def normalize_iban(value: str) -> str:
    """Validate (schwifty: country format + mod-97) and return the electronic form.
    Cached: a customer pays the same few IBANs again and again, and schwifty's parse
    and registry lookup cost ~2.5 % of a transfer's CPU (bench/transfer_cpu.py); an
    invalid one raises each time (exceptions are not cached)."""
    from schwifty import IBAN  # local import: schwifty loads its registry on import
    from schwifty.exceptions import SchwiftyException

    try:
        return str(IBAN(value).compact)
    except (SchwiftyException, ValueError) as exc:
        raise IbanError(str(exc)) from exc


def is_our_bank(iban: str) -> bool:
    return iban.startswith("DE") and iban[4:12] == OUR_BANK_CODE
