"""Staff console routes: the page at ``/console`` and the live handoff part of its API
(``/console/api/handoffs``, accept, messages, end), and ``/console/api/events``: a
Server-Sent Events stream of what changed (``live.py``), read with ``fetch`` so it
carries the same Bearer token; it ends when that token expires and the console
reconnects with a refreshed one. Reviewing recorded conversations is ``review/``.

Every API route needs ``Authorization: Bearer <access token>`` of a staff user (role
``agent`` or ``supervisor``, from ``POST /auth/token``): none or an invalid one -> 401,
a customer's -> 403 (``staff.py``). Thin: the logic is in ``service.py``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, StreamingResponse

from gateway.console.live import ConsoleFeed
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


def get_feed(request: Request) -> ConsoleFeed:
    feed: ConsoleFeed = request.app.state.console_feed
    return feed


ConsoleDep = Annotated[ConsoleService, Depends(get_console)]
FeedDep = Annotated[ConsoleFeed, Depends(get_feed)]
KEEPALIVE_SECONDS = 15.0  # a comment line, so proxies keep an idle stream open
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


@router.get("/api/events", responses=_ERRORS, response_class=StreamingResponse)
async def events(feed: FeedDep, staff: StaffDep) -> StreamingResponse:
    """``text/event-stream``: ``ready`` once subscribed, then ``sessions`` / ``queue`` /
    ``erased`` / ``resync`` events (JSON ``data``), and ``expired`` when the token does."""
    return StreamingResponse(
        _event_stream(feed, staff.expires_at or int(time.time()) + 60),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _event_stream(feed: ConsoleFeed, expires_at: int) -> AsyncIterator[str]:
    with feed.subscribe() as queue:
        yield "event: ready\ndata: {}\n\n"
        while (left := expires_at - time.time()) > 0:
            try:
                event = await asyncio.wait_for(queue.get(), min(KEEPALIVE_SECONDS, left))
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            yield f"event: {event['type']}\ndata: {json.dumps(event)}\n\n"
        yield "event: expired\ndata: {}\n\n"


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
