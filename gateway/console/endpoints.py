"""Staff console routes: the page at ``/console`` and its API under ``/console/api``.

Every API route needs ``Authorization: Bearer <access token>`` of a staff user (role
``agent`` or ``supervisor``, from ``POST /auth/token``): none or an invalid one -> 401,
a customer's -> 403. Thin: the logic is in ``service.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, status
from fastapi import Path as PathParam
from fastapi.responses import FileResponse

from gateway.auth.tokens import TokenError, TokenService
from gateway.console.schemas import (
    AgentMessage,
    HandoffList,
    Posted,
    SessionList,
    Transcript,
)
from gateway.console.service import ConsoleService, Staff
from gateway.problems import Problem

STATIC_DIR = Path(__file__).parent.parent / "static"
STAFF_ROLES = frozenset({"agent", "supervisor"})
_CSP = ("default-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")

router = APIRouter(prefix="/console", tags=["console"])


class NotAuthenticated(Problem):
    status, slug, title = 401, "not-authenticated", "A valid staff access token is required"
    headers = {"WWW-Authenticate": "Bearer"}


class NotStaff(Problem):
    status, slug, title = 403, "not-staff", "Only support staff may use the console"


def get_console(request: Request) -> ConsoleService:
    service: ConsoleService = request.app.state.console_service
    return service


def get_staff(request: Request,
              authorization: Annotated[str | None, Header()] = None) -> Staff:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise NotAuthenticated()
    tokens: TokenService = request.app.state.tokens
    try:
        claims = tokens.decode(token.strip())
    except TokenError as exc:
        raise NotAuthenticated() from exc
    if not STAFF_ROLES & set(claims.roles):
        raise NotStaff()
    return Staff(sub=claims.sub, name=claims.name or claims.username or claims.sub,
                 supervisor="supervisor" in claims.roles)


ConsoleDep = Annotated[ConsoleService, Depends(get_console)]
StaffDep = Annotated[Staff, Depends(get_staff)]
SessionId = Annotated[str, PathParam(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
_ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "no valid token"}, 403: {"description": "not staff"}}
_CONFLICTS: dict[int | str, dict[str, str]] = {
    **_ERRORS, 404: {"description": "no such session"},
    409: {"description": "wrong handoff state, or another agent holds it"}}


@router.get("", include_in_schema=False)
async def console_page() -> FileResponse:
    return FileResponse(STATIC_DIR / "console.html", headers={
        "Content-Security-Policy": _CSP, "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"})


@router.get("/api/handoffs", responses=_ERRORS)
async def list_handoffs(console: ConsoleDep, staff: StaffDep) -> HandoffList:
    """Conversations waiting for a person (``requested``) or held by one (``accepted``)."""
    return HandoffList(data=await console.handoffs())


@router.post("/api/sessions/{session_id}/accept", responses=_CONFLICTS)
async def accept(session_id: SessionId, console: ConsoleDep, staff: StaffDep) -> Posted:
    return await console.accept(session_id, staff)


@router.post("/api/sessions/{session_id}/messages", status_code=status.HTTP_201_CREATED,
             responses=_CONFLICTS)
async def send_message(session_id: SessionId, body: AgentMessage, console: ConsoleDep,
                       staff: StaffDep) -> Posted:
    return await console.send(session_id, staff, body.text)


@router.post("/api/sessions/{session_id}/end", responses=_CONFLICTS)
async def end(session_id: SessionId, console: ConsoleDep, staff: StaffDep) -> Posted:
    return await console.end(session_id, staff)


@router.get("/api/sessions", responses=_ERRORS)
async def list_sessions(
    console: ConsoleDep, staff: StaffDep,
    customer_id: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> SessionList:
    """Recent conversations from the transcripts, newest first."""
    return SessionList(data=await console.sessions(customer_id, limit))


@router.get("/api/sessions/{session_id}/transcript", responses=_ERRORS)
async def transcript(session_id: SessionId, console: ConsoleDep, staff: StaffDep) -> Transcript:
    """Every recorded turn of one conversation, oldest first: the customer's text as
    masked, the bot's replies, NLU data, agent messages and handoff changes."""
    return await console.transcript(session_id)
