"""Service-to-service endpoints (``X-Service-Token``), not for browsers.

``POST /internal/pii/resolve {"session_id", "ref"}`` -> ``200 {"kind": "gift_card",
"value": <code as the customer typed it>}`` for a ``[giftcard:<ref>]`` the gateway put
into that session's text within PII_REF_TTL_SECONDS; ``404`` problem+json when unknown
or expired; ``401`` without the right service token. The action server calls it (with
the Rasa sender id, which is the session id) right before it needs the code, so the
code never sits in Rasa's tracker store, logs or transcripts. Resolving does not
consume the reference: a balance check followed by a redemption may resolve it twice.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, Field

from gateway.problems import Problem

router = APIRouter(prefix="/internal", tags=["internal"])


class ResolveRequest(BaseModel):
    session_id: str = Field(min_length=1, max_length=64)
    ref: str = Field(min_length=1, max_length=64)


class Resolved(BaseModel):
    kind: str
    value: str


class BadServiceToken(Problem):
    status, slug, title = 401, "bad-service-token", "Missing or wrong service token"


class UnknownReference(Problem):
    status, slug, title = 404, "unknown-reference", "Unknown or expired reference"


@router.post("/pii/resolve", responses={401: {}, 404: {}})
async def resolve(
    body: ResolveRequest, request: Request,
    x_service_token: Annotated[str | None, Header()] = None,
) -> Resolved:
    expected = request.app.state.settings.service_token
    if x_service_token is None or not hmac.compare_digest(x_service_token.encode(),
                                                          expected.encode()):
        raise BadServiceToken()
    value = await request.app.state.chat_store.resolve_ref(body.session_id, body.ref)
    if value is None:
        raise UnknownReference()
    return Resolved(kind="gift_card", value=value)
