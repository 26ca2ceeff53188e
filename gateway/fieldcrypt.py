"""Per-field encryption at rest (AES-256-GCM) and blind indexes (HMAC-SHA256).

A value is stored as ``v1:<key id>:<urlsafe base64 of nonce || ciphertext || tag>``:
the key id beside the ciphertext says which key opens it, so keys rotate without a
flag day (``DATA_ENCRYPTION_KEYS="new:...,old:..."``: the first encrypts, all decrypt;
``python -m gateway.transcripts.rekey`` moves old rows to the first). The field's name
(``context``, e.g. ``payees.iban``) is authenticated data: a ciphertext copied into
another column does not decrypt.

Equality lookups cannot use randomised ciphertext, so a column that needs one gets a
blind index beside it: HMAC-SHA256 under a separate key of the context and the
normalised value. It reveals which rows are equal, nothing more. Index keys rotate the
same way (``DATA_INDEX_KEYS="k2:...,k1:..."``): an index is stored as ``<key id>:<hex>``,
the first key makes new ones, lookups match the index under every listed key, and the
rekey command recomputes old ones. A key given without an id (``DATA_INDEX_KEY``, from
before index keys had ids) makes bare ``<hex>`` indexes, as it always did.

core_banking has its own copy of this module (no Python import crosses the deployables).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = "v1"
_KID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_NONCE_BYTES = 12
LEGACY_INDEX_KID = ""  # the id-less index key: bare indexes, no ``<key id>:`` before them
# The longest stored index: a 32-character key id, ":", 64 hex digits.
INDEX_LENGTH = 32 + 1 + 64


class FieldKeyError(ValueError):
    """The key configuration is unusable (raised at startup, from settings)."""


class FieldDecryptError(ValueError):
    """A stored value cannot be decrypted: unknown key id, tampered or not ours."""


_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


def _b64decode(text: str) -> bytes:
    """base64.urlsafe_b64decode of unpadded text, in one C call after the translation
    (searches decrypt a value per row: this is a third of a decryption's time)."""
    data = text.encode("ascii").translate(_FROM_URLSAFE)
    return binascii.a2b_base64(data + b"=" * (-len(data) % 4))


def parse_keys(spec: str) -> list[tuple[str, bytes]]:
    """``kid:base64key,kid:base64key`` -> [(kid, 32-byte key)], the current one first."""
    keys: list[tuple[str, bytes]] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        kid, sep, encoded = part.partition(":")
        if not sep or not _KID.match(kid):
            raise FieldKeyError(f"key {kid!r}: expected <key id>:<base64 key>, id [A-Za-z0-9_-]")
        try:
            key = _b64decode(encoded.strip())
        except (binascii.Error, ValueError) as exc:
            raise FieldKeyError(f"key {kid!r} is not base64") from exc
        if len(key) != 32:
            raise FieldKeyError(f"key {kid!r} has {len(key)} bytes; AES-256 needs 32")
        if any(kid == known for known, _ in keys):
            raise FieldKeyError(f"key id {kid!r} appears twice")
        keys.append((kid, key))
    if not keys:
        raise FieldKeyError("no data encryption key configured")
    return keys


def parse_index_key(encoded: str) -> bytes:
    try:
        key = _b64decode(encoded.strip())
    except (binascii.Error, ValueError) as exc:
        raise FieldKeyError("the blind index key is not base64") from exc
    if len(key) < 32:
        raise FieldKeyError("the blind index key needs at least 32 bytes")
    return key


def parse_index_keys(spec: str) -> list[tuple[str, bytes]]:
    """``kid:base64key,kid:base64key`` -> [(kid, key)], the current one first. One entry
    may be a bare base64 key (no ``:``, which base64 never contains): the key from before
    index keys had ids, whose indexes are stored without one (kid ``LEGACY_INDEX_KID``)."""
    keys: list[tuple[str, bytes]] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        kid, sep, encoded = part.rpartition(":")
        if sep and not _KID.match(kid):
            raise FieldKeyError(f"index key {kid!r}: expected <key id>:<base64 key>")
        if any(kid == known for known, _ in keys):
            what = f"key id {kid!r}" if kid else "a key without an id"
            raise FieldKeyError(f"blind index keys: {what} appears twice")
        keys.append((kid, parse_index_key(encoded)))
    if not keys:
        raise FieldKeyError("no blind index key configured")
    return keys


def new_key_spec(kid: str) -> str:
    """A fresh ``kid:base64key`` entry (docs: how to make one)."""
    return f"{kid}:{base64.urlsafe_b64encode(os.urandom(32)).decode()}"


class FieldCipher:
    def __init__(
        self, keys: Sequence[tuple[str, bytes]], index_keys: Sequence[tuple[str, bytes]]
    ) -> None:
        if not keys:
            raise FieldKeyError("no data encryption key configured")
        if not index_keys:
            raise FieldKeyError("no blind index key configured")
        self.current_kid = keys[0][0]
        self._aead = {kid: AESGCM(key) for kid, key in keys}
        self.current_index_kid = index_keys[0][0]
        self._index_keys = list(index_keys)

    @classmethod
    def from_config(cls, keys: str, index_keys: str) -> FieldCipher:
        return cls(parse_keys(keys), parse_index_keys(index_keys))

    @property
    def current_prefix(self) -> str:
        """Every value written under the current key starts with this."""
        return f"{VERSION}:{self.current_kid}:"

    def encrypt(self, plaintext: str, *, context: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead[self.current_kid].encrypt(nonce, plaintext.encode(), context.encode())
        token = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{self.current_prefix}{token}"

    def decrypt(self, stored: str, *, context: str) -> str:
        version, kid, token = key_id_parts(stored)
        if version != VERSION:
            raise FieldDecryptError(f"{context}: not an encrypted value")
        aead = self._aead.get(kid)
        if aead is None:
            raise FieldDecryptError(
                f"{context}: encrypted under key id {kid!r}, which DATA_ENCRYPTION_KEYS lacks"
            )
        try:
            raw = _b64decode(token)
            plain = aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode())
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise FieldDecryptError(f"{context}: the value does not decrypt") from exc
        return plain.decode()

    def is_current(self, stored: str) -> bool:
        return stored.startswith(self.current_prefix)

    def blind_index(self, normalised: str, *, context: str) -> str:
        """Under the current index key: ``<key id>:`` and 64 hex chars (bare hex for the
        id-less key); equal for equal (context, value), unguessable without the key."""
        return _index(*self._index_keys[0], normalised, context)

    def blind_indexes(self, normalised: str, *, context: str) -> list[str]:
        """The value's index under every configured index key, current first: what an
        equality lookup compares while indexes move from one key to the next."""
        return [_index(kid, key, normalised, context) for kid, key in self._index_keys]

    @property
    def current_index_prefix(self) -> str:
        """Every index made under the current index key starts with this ('' for the
        id-less key, whose indexes are the ones without a ':')."""
        return f"{self.current_index_kid}:" if self.current_index_kid else ""


def _index(kid: str, key: bytes, normalised: str, context: str) -> str:
    message = context.encode() + b"\x00" + normalised.encode()
    digest = hmac.digest(key, message, "sha256").hex()  # one call into OpenSSL
    return f"{kid}:{digest}" if kid else digest


def key_id_parts(stored: str) -> tuple[str, str, str]:
    """(version, key id, token) of a stored value; ('', '', '') if it has no prefix."""
    version, sep1, rest = stored.partition(":")
    kid, sep2, token = rest.partition(":")
    if not (sep1 and sep2):
        return "", "", ""
    return version, kid, token
