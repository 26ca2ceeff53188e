"""Transcript columns encrypted at rest, transparently to the code that reads them.

``EncryptedText`` stores ``fieldcrypt.FieldCipher.encrypt`` of the value in a TEXT
column; ``EncryptedJSON`` stores the ciphertext of the value's JSON as a JSON string
(the column stays JSON, so existing tables need no type change). Both hand back
plaintext. Rows written before encryption (plaintext: no ``v1:<kid>:`` prefix, or a
JSON array) are still read as they are until ``python -m gateway.transcripts.rekey``
encrypts them. SQL can no longer compare these columns: the console filters words by
decrypting (``console/review/search.py``) and customer names by a blind index
(``name_index``, compared under every index key: ``name_indexes``).

One cipher per process, from Settings (``create_app`` calls ``use_settings``) or, failing
that, from the environment on first use.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import JSON, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from gateway.fieldcrypt import VERSION, FieldCipher
from gateway.settings import Settings, get_settings

_active: FieldCipher | None = None
NAME_CONTEXT = "chat_sessions.customer_name"


def use_settings(settings: Settings) -> FieldCipher:
    """Make ``settings``' keys the ones every encrypted column uses from now on."""
    global _active
    _active = FieldCipher.from_config(settings.data_encryption_keys, settings.index_keys)
    return _active


def active_cipher() -> FieldCipher:
    return _active if _active is not None else use_settings(get_settings())


def is_encrypted(stored: str) -> bool:
    return stored.startswith(f"{VERSION}:")


def open_text(stored: str, context: str) -> str:
    """The plaintext of a stored value (a legacy plaintext value as it is)."""
    return active_cipher().decrypt(stored, context=context) if is_encrypted(stored) else stored


def name_index(name: str | None) -> str | None:
    """Blind index of a customer's display name, case-insensitive (the console's
    ``customer`` filter matches names regardless of case), under the current index key."""
    if name is None:
        return None
    return active_cipher().blind_index(name.strip().casefold(), context=NAME_CONTEXT)


def name_indexes(name: str) -> list[str]:
    """The name's index under every index key: what the customer filter compares, so
    conversations whose index the rekey has not moved yet still match."""
    return active_cipher().blind_indexes(name.strip().casefold(), context=NAME_CONTEXT)


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
        return None if value is None else open_text(value, self.context)


class EncryptedJSON(TypeDecorator[Any]):
    impl = JSON
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return active_cipher().encrypt(json.dumps(value), context=self.context)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if isinstance(value, str) and is_encrypted(value):
            return json.loads(active_cipher().decrypt(value, context=self.context))
        return value  # None, or a row from before encryption
