"""Staff console routes: the page at ``/console`` and the live handoff part of its API
(``/console/api/handoffs``, accept, messages, end); reviewing recorded conversations is
``review/``.

Every API route needs ``Authorization: Bearer <access token>`` of a staff user (role
``agent`` or ``supervisor``, from ``POST /auth/token``): none or an invalid one -> 401,
a customer's -> 403 (``staff.py``). Thin: the logic is in ``service.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi import Path as PathParam
from fastapi.responses import FileResponse

from gateway.console.schemas import AgentMessage, HandoffList, Posted
from gateway.console.service import ConsoleService
from gateway.console.staff import StaffDep

STATIC_DIR = Path(__file__).parent.parent / "static"
_CSP = (
    "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

router = APIRouter(prefix="/console", tags=["console"])


def get_console(request: Request) -> ConsoleService:
    service: ConsoleService = request.app.state.console_service
    return service


ConsoleDep = Annotated[ConsoleService, Depends(get_console)]
SessionId = Annotated[str, PathParam(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
_ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "no valid token"},
    403: {"description": "not staff"},
}
_CONFLICTS: dict[int | str, dict[str, str]] = {
    **_ERRORS,
    404: {"description": "no such session"},
    409: {"description": "wrong handoff state, or another agent holds it"},
}


@router.get("", include_in_schema=False)
async def console_page() -> FileResponse:
    return FileResponse(
        STATIC_DIR / "console.html",
        headers={
            "Content-Security-Policy": _CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache",
        },
    )


@router.get("/api/handoffs", responses=_ERRORS)
async def list_handoffs(console: ConsoleDep, staff: StaffDep) -> HandoffList:
    """Conversations waiting for a person (``requested``) or held by one (``accepted``)."""
    return HandoffList(data=await console.handoffs())


@router.post("/api/sessions/{session_id}/accept", responses=_CONFLICTS)
async def accept(session_id: SessionId, console: ConsoleDep, staff: StaffDep) -> Posted:
    return await console.accept(session_id, staff)


@router.post(
    "/api/sessions/{session_id}/messages", status_code=status.HTTP_201_CREATED, responses=_CONFLICTS
)
async def send_message(
    session_id: SessionId, body: AgentMessage, console: ConsoleDep, staff: StaffDep
) -> Posted:
    return await console.send(session_id, staff, body.text)


@router.post("/api/sessions/{session_id}/end", responses=_CONFLICTS)
async def end(session_id: SessionId, console: ConsoleDep, staff: StaffDep) -> Posted:
    return await console.end(session_id, staff)
