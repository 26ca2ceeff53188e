"""The sealed turn credential the gateway puts into each message's metadata, opened here,
and the sealing of a secret a reply shows once.

The gateway seals ``{"v": 1, "sub", "sid", "turn", "ip", "token"}`` with Fernet
(CHAT_CREDENTIAL_KEY, shared by the gateway and this server only; see
gateway/chat/credentials.py for the writer's side). What is inside was put there by
the gateway for this turn, so it can be trusted: the customer (``sub``, None for a
guest), the chat session, the turn's identity, the client's address and, for a
customer, the delegated access token for core_banking. Anything else in the metadata is
only a hint.

``seal_secret`` wraps a secret for a reply as ``[sealed:<last4>:<token>]``: the tracker
(and with it Rasa's store, logs and broker) then holds ciphertext; the gateway shows
the secret in the live frame only and keeps the last four characters elsewhere.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from actions.settings import get_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TurnClaims:
    session_id: str
    turn_id: str
    customer_id: str | None
    client_ip: str | None
    token: str | None
    sealed: str  # as received: what the gateway's /internal endpoints take back


@lru_cache(maxsize=4)
def _fernet(keys: str) -> MultiFernet:
    return MultiFernet([Fernet(k.strip().encode()) for k in keys.split(",") if k.strip()])


def open_credential(metadata: Any) -> TurnClaims | None:
    """The claims of this turn's credential, or None (guest-less metadata, forged,
    tampered with or older than DELEGATED_TOKEN_TTL_SECONDS: treated as no identity)."""
    sealed = metadata.get("credential") if isinstance(metadata, dict) else None
    if not isinstance(sealed, str) or not sealed:
        return None
    settings = get_settings()
    try:
        body = json.loads(
            _fernet(settings.chat_credential_key).decrypt(
                sealed.encode(), ttl=settings.delegated_token_ttl_seconds
            )
        )
    except (InvalidToken, ValueError, TypeError):
        log.warning("a turn credential did not open (expired, forged, or another key)")
        return None
    if not isinstance(body, dict) or body.get("v") != 1:
        return None
    sid, turn = body.get("sid"), body.get("turn")
    if not isinstance(sid, str) or not isinstance(turn, str):
        return None
    return TurnClaims(
        session_id=sid,
        turn_id=turn,
        customer_id=_text(body.get("sub")),
        client_ip=_text(body.get("ip")),
        token=_text(body.get("token")),
        sealed=sealed,
    )


def seal_secret(secret: str) -> str:
    token = _fernet(get_settings().chat_credential_key).encrypt(secret.encode()).decode()
    last4 = "".join(ch for ch in secret if ch.isalnum())[-4:].upper()
    return f"[sealed:{last4}:{token}]"


_SEALED = re.compile(r"\[sealed:([^:\]]{1,8}):[^\]]*\]")


def conceal_sealed(text: str) -> str:
    """`text` with every `seal_secret` output cut to ``[gift card •••• <last4>]``: for a
    reply sent again, which must not reveal the secret a second time."""
    return _SEALED.sub(lambda m: f"[gift card •••• {m.group(1)}]", text)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
