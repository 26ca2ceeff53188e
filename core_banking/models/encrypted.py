"""Columns whose values are encrypted at rest, transparently to the code that uses them.

``EncryptedText("payees.name")`` stores what ``fieldcrypt.FieldCipher.encrypt`` makes
of the value and hands back the plaintext on reads, so endpoints and services keep
working with plain strings; only SQL that compared or sorted the plaintext had to change
(a blind index for equality, sorting in Python). The cipher is the process's one, built
from Settings by whoever starts (``create_app``, ``migrate``, ``rekey``, ``seed``) or,
failing that, from the environment on first use.

Hand-written SQL (``rawsql``) bypasses column types: it encrypts its rows with ``seal``
first. A blind index column says which encrypted column it indexes
(``info=blind_index_of("iban")``), so the rekey command can recompute it.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from sqlalchemy import FromClause, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from core_banking.fieldcrypt import FieldCipher
from core_banking.settings import Settings, get_settings

_active: FieldCipher | None = None


def cipher_for(settings: Settings) -> FieldCipher:
    return FieldCipher.from_config(settings.data_encryption_keys, settings.index_keys)


def use_settings(settings: Settings) -> FieldCipher:
    """Make ``settings``' keys the ones every encrypted column uses from now on."""
    global _active
    _active = cipher_for(settings)
    return _active


def active_cipher() -> FieldCipher:
    return _active if _active is not None else use_settings(get_settings())


class EncryptedText(TypeDecorator[str]):
    impl = Text
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context  # "table.column", bound into each ciphertext

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return active_cipher().encrypt(str(value), context=self.context)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return active_cipher().decrypt(value, context=self.context)


def blind_index_of(source: str) -> dict[str, str]:
    """``info`` of a blind index column: the encrypted column of the same table whose
    plaintext it is the HMAC of (under that column's context)."""
    return {"blind_index_of": source}


def blind_index(plaintext: str | None, *, context: str) -> str | None:
    """The index new rows get (current index key)."""
    return None if plaintext is None else active_cipher().blind_index(plaintext, context=context)


def blind_indexes(plaintext: str, *, context: str) -> list[str]:
    """What an equality lookup compares: the index under every configured key."""
    return active_cipher().blind_indexes(plaintext, context=context)


@lru_cache(maxsize=64)
def _encrypted_columns(table: FromClause) -> tuple[tuple[str, str], ...]:
    return tuple(
        (column.name, column.type.context)
        for column in table.columns
        if isinstance(column.type, EncryptedText)
    )


def opened(stored: str | None, *, context: str) -> str | None:
    """A value as hand-written SQL reads it (ciphertext), as the ORM column gives it."""
    return None if stored is None else active_cipher().decrypt(stored, context=context)


def seal(table: FromClause, row: Mapping[str, Any]) -> dict[str, Any]:
    """``row`` as the ORM would bind it to ``table``: its encrypted columns' values
    encrypted, the rest as they are."""
    sealed = dict(row)
    cipher = active_cipher()
    for name, context in _encrypted_columns(table):
        value = sealed.get(name)
        if value is not None:
            sealed[name] = cipher.encrypt(str(value), context=context)
    return sealed
