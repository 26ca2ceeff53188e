"""Sealed turn credentials and sealed secrets: what the gateway lets Rasa carry without
letting anyone who reads a tracker use it.

Each turn's metadata carries ``credential``: a Fernet token (AES-128-CBC + HMAC-SHA256,
keys CHAT_CREDENTIAL_KEY, shared only with the action server) of
``{"v": 1, "sub", "sid", "turn", "ip", "token"}``:

- ``sub``: the customer id, or null for a guest; ``sid``: the chat session; ``turn``:
  ``"<sid>:<client_msg_id>"``, the turn's stable identity (idempotency keys derive
  from it); ``ip``: the client address the gateway saw (guest lockouts key on it);
- ``token``: for a customer, a JWT with the delegated audience (DELEGATED_AUDIENCE,
  refused by ``/ws``), lifetime DELEGATED_TOKEN_TTL_SECONDS, minted by the gateway from
  the socket's verified claims; null for a guest.

Callers may rely on: ``open`` returns the claims only for a token sealed with one of
the keys within ``ttl_seconds``, else raises ``CredentialError``; so a tracker read from
Rasa's store, its logs or its event broker holds nothing usable, and the metadata
cannot be forged or replayed after its turn's lifetime.

Sealed secrets: a bot reply may show a secret once (the gift-card purchase receipt). The
action server puts ``[sealed:<last4>:<fernet token of the secret>]`` into the text, so
the tracker holds ciphertext only; ``reveal`` turns it into the secret for the live
frame, ``conceal`` into ``[gift card •••• <last4>]`` for everything stored or replayed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

SEALED_SECRET = re.compile(r"\[sealed:([0-9A-Za-z]{1,4}):([A-Za-z0-9_\-=]{20,400})\]")


class CredentialError(Exception):
    """Not sealed by us, tampered with, malformed or expired."""


@dataclass(frozen=True)
class TurnClaims:
    session_id: str
    turn_id: str
    customer_id: str | None = None
    client_ip: str | None = None
    token: str | None = None  # the delegated access token (customers only)


def _fernet(keys: str) -> MultiFernet:
    parts = [k.strip() for k in keys.split(",") if k.strip()]
    if not parts:
        raise ValueError("CHAT_CREDENTIAL_KEY holds no key")
    return MultiFernet([Fernet(k.encode()) for k in parts])


class TurnSealer:
    def __init__(self, keys: str, *, ttl_seconds: int) -> None:
        self._fernet = _fernet(keys)
        self._ttl = ttl_seconds

    def seal(self, claims: TurnClaims) -> str:
        body = {
            "v": 1,
            "sub": claims.customer_id,
            "sid": claims.session_id,
            "turn": claims.turn_id,
            "ip": claims.client_ip,
            "token": claims.token,
        }
        return self._fernet.encrypt(json.dumps(body).encode()).decode()

    def open(self, sealed: str) -> TurnClaims:
        try:
            body = json.loads(self._fernet.decrypt(sealed.encode(), ttl=self._ttl))
        except (InvalidToken, ValueError, TypeError) as exc:
            raise CredentialError("invalid or expired credential") from exc
        if not isinstance(body, dict) or body.get("v") != 1:
            raise CredentialError("unknown credential version")
        sid, turn = body.get("sid"), body.get("turn")
        if not isinstance(sid, str) or not isinstance(turn, str):
            raise CredentialError("credential without session")
        return TurnClaims(
            session_id=sid,
            turn_id=turn,
            customer_id=_str(body.get("sub")),
            client_ip=_str(body.get("ip")),
            token=_str(body.get("token")),
        )

    def reveal(self, text: str) -> str:
        """The text as its customer sees it live: sealed secrets opened (an unreadable
        one is concealed instead, never shown as ciphertext)."""

        def opened(match: re.Match[str]) -> str:
            try:
                return self._fernet.decrypt(match.group(2).encode()).decode()
            except (InvalidToken, UnicodeDecodeError):
                return _concealed(match)

        return SEALED_SECRET.sub(opened, text)

    def reveal_frame(self, frame: dict[str, Any]) -> dict[str, Any]:
        return _with_text(frame, self.reveal)


def conceal_frame(frame: dict[str, Any]) -> dict[str, Any]:
    return _with_text(frame, conceal)


def _with_text(frame: dict[str, Any], change: Any) -> dict[str, Any]:
    text = frame.get("text")
    if frame.get("type") != "bot" or not isinstance(text, str) or "[sealed:" not in text:
        return frame
    return {**frame, "text": change(text)}


def conceal(text: str) -> str:
    """The text as it may be stored, replayed or shown to staff: no secret, last four only."""
    return SEALED_SECRET.sub(_concealed, text)


def _concealed(match: re.Match[str]) -> str:
    return f"[gift card •••• {match.group(1).upper()}]"


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
