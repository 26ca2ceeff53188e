"""Service-to-service endpoints (``X-Service-Token``), not for browsers.

``POST /internal/handoff/position {"credential"}`` -> ``200 {"position", "waiting"}``:
where the credential's session stands in the queue for a person (1 = next).

``POST /internal/pii/resolve {"credential", "ref"}`` -> ``200 {"kind": "gift_card",
"value": <code as the customer typed it>}`` for a ``[giftcard:<ref>]`` the gateway put
into the text of the session named by the turn credential (``chat/credentials.py``),
within PII_REF_TTL_SECONDS; ``404`` problem+json when unknown, expired, or made in
another session; ``401`` without the right service token or with a credential that
is not ours or has expired. The session comes only from the sealed credential the
gateway gave that turn, never from the caller, so a reference seen in a transcript
cannot be resolved for anybody else. The action server calls it right before it needs
the code, so the code never sits in Rasa's tracker store, logs or transcripts.
Resolving does not consume the reference: a balance check followed by a redemption may
resolve it twice.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, Field

from gateway.chat import protocol
from gateway.chat.credentials import CredentialError, TurnClaims, TurnSealer
from gateway.problems import Problem

router = APIRouter(prefix="/internal", tags=["internal"])


class ResolveRequest(BaseModel):
    credential: str = Field(min_length=1, max_length=8192)
    ref: str = Field(min_length=1, max_length=64)


class Resolved(BaseModel):
    kind: str
    value: str


class BadServiceToken(Problem):
    status, slug, title = 401, "bad-service-token", "Missing or wrong service token"


class BadCredential(Problem):
    status, slug, title = 401, "bad-credential", "Invalid or expired turn credential"


class UnknownReference(Problem):
    status, slug, title = 404, "unknown-reference", "Unknown or expired reference"


class PositionRequest(BaseModel):
    credential: str = Field(min_length=1, max_length=8192)


class QueuePosition(BaseModel):
    position: int  # 1: the next one a colleague takes
    waiting: int  # sessions waiting for a person, this one included


@router.post("/handoff/position", responses={401: {}, 404: {}})
async def handoff_position(
    body: PositionRequest,
    request: Request,
    x_service_token: Annotated[str | None, Header()] = None,
) -> QueuePosition:
    """Where the credential's session stands in the queue for a person (the action
    server tells the customer when it asks for one)."""
    state = request.app.state
    claims = _claims(state, body.credential, x_service_token)
    place, waiting = await state.chat_store.queue_position(claims.session_id)
    return QueuePosition(position=place, waiting=waiting)


def _claims(state: Any, credential: str, service_token: str | None) -> TurnClaims:
    """The turn credential's claims, for a caller with the service token."""
    expected = state.settings.service_token
    if service_token is None or not hmac.compare_digest(service_token.encode(), expected.encode()):
        raise BadServiceToken()
    sealer: TurnSealer = state.turn_sealer
    try:
        return sealer.open(credential)
    except CredentialError as exc:
        raise BadCredential() from exc


@router.post("/pii/resolve", responses={401: {}, 404: {}})
async def resolve(
    body: ResolveRequest,
    request: Request,
    x_service_token: Annotated[str | None, Header()] = None,
) -> Resolved:
    state = request.app.state
    claims = _claims(state, body.credential, x_service_token)
    store = state.chat_store
    if await store.get_owner(claims.session_id) != protocol.owner_of(claims.customer_id):
        raise UnknownReference()
    value = await store.resolve_ref(claims.session_id, body.ref)
    if value is None:
        raise UnknownReference()
    return Resolved(kind="gift_card", value=value)
