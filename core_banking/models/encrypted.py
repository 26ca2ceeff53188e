"""Columns whose values are encrypted at rest, transparently to the code that uses them.

``EncryptedText("payees.name")`` stores what ``fieldcrypt.FieldCipher.encrypt`` makes
of the value and hands back the plaintext on reads, so endpoints and services keep
working with plain strings; only SQL that compared or sorted the plaintext had to change
(a blind index for equality, sorting in Python). The cipher is the process's one, built
from Settings by whoever starts (``create_app``, ``migrate``, ``rekey``, ``seed``) or,
failing that, from the environment on first use.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from core_banking.fieldcrypt import FieldCipher
from core_banking.settings import Settings, get_settings

_active: FieldCipher | None = None


def cipher_for(settings: Settings) -> FieldCipher:
    return FieldCipher.from_config(settings.data_encryption_keys, settings.data_index_key)


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
