"""Console routes for recorded conversations (CONTRACT.md "Staff console API"). Thin:
the work is in ``service.py``; who may call what is ``StaffDep`` (agent or supervisor)
or ``SupervisorDep`` (supervisor only)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi import Path as PathParam
from fastapi.responses import PlainTextResponse, StreamingResponse

from gateway.console.endpoints import FeedDep
from gateway.console.review.erasure import ErasureService
from gateway.console.review.exports import ExportService
from gateway.console.review.schemas import (
    INTENT_PATTERN,
    TAG_PATTERN,
    AuditPage,
    Erased,
    Flag,
    LabelIn,
    Labelled,
    Note,
    NoteIn,
    Reviewed,
    ReviewIn,
    SessionFilters,
    SessionPage,
    Stats,
    TagIn,
    Tags,
    TranscriptOut,
)
from gateway.console.review.service import ReviewService
from gateway.console.staff import StaffDep, SupervisorDep
from gateway.problems import Problem

router = APIRouter(prefix="/console/api", tags=["console"])


class BadDateRange(Problem):
    status, slug, title = 422, "bad-date-range", "'to' is before 'from'"


def get_review(request: Request) -> ReviewService:
    service: ReviewService = request.app.state.review_service
    return service


def session_filters(
    q: Annotated[str | None, Query(max_length=200, description="words in the texts")] = None,
    customer: Annotated[
        str | None, Query(max_length=200, description="username, display name or id")
    ] = None,
    customer_id: Annotated[str | None, Query(max_length=128)] = None,
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
    intent: Annotated[str | None, Query(pattern=INTENT_PATTERN)] = None,
    flag: Annotated[list[Flag] | None, Query()] = None,
    tag: Annotated[list[Annotated[str, Query(pattern=TAG_PATTERN)]] | None, Query()] = None,
    reviewed: bool | None = None,
) -> SessionFilters:
    if date_from and date_to and date_to < date_from:
        raise BadDateRange()
    return SessionFilters(
        q=q,
        customer=customer,
        customer_id=customer_id,
        date_from=date_from,
        date_to=date_to,
        intent=intent,
        flags=tuple(flag or ()),
        tags=tuple(tag or ()),
        reviewed=reviewed,
    )


def get_exports(request: Request) -> ExportService:
    service: ExportService = request.app.state.export_service
    return service


def get_erasure(request: Request) -> ErasureService:
    service: ErasureService = request.app.state.erasure_service
    return service


ReviewDep = Annotated[ReviewService, Depends(get_review)]
ExportDep = Annotated[ExportService, Depends(get_exports)]
ErasureDep = Annotated[ErasureService, Depends(get_erasure)]
FiltersDep = Annotated[SessionFilters, Depends(session_filters)]
SessionId = Annotated[str, PathParam(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
_STAFF: dict[int | str, dict[str, str]] = {
    401: {"description": "no valid token"},
    403: {"description": "not staff"},
}
_SUPERVISOR: dict[int | str, dict[str, str]] = {
    401: {"description": "no valid token"},
    403: {"description": "not a supervisor"},
}
_SESSION: dict[int | str, dict[str, str]] = {**_STAFF, 404: {"description": "no such session"}}


@router.get("/sessions", responses=_STAFF)
async def list_sessions(
    review: ReviewDep,
    staff: StaffDep,
    filters: FiltersDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> SessionPage:
    """Conversations, newest first; every filter given must hold."""
    return await review.sessions(filters, limit, cursor)


@router.get("/sessions/{session_id}/transcript", responses=_STAFF)
async def transcript(session_id: SessionId, review: ReviewDep, staff: StaffDep) -> TranscriptOut:
    """Every recorded turn, oldest first, with tags, notes, rating and feedback
    (recorded in the audit log)."""
    return await review.transcript(session_id, staff)


@router.post("/sessions/{session_id}/tags", responses=_SESSION)
async def add_tag(
    session_id: SessionId, body: TagIn, review: ReviewDep, staff: StaffDep, feed: FeedDep
) -> Tags:
    tags = await review.add_tag(session_id, body.tag, staff)
    await feed.sessions_changed([session_id])
    return tags


@router.delete("/sessions/{session_id}/tags/{tag}", responses=_SESSION)
async def remove_tag(
    session_id: SessionId,
    tag: Annotated[str, PathParam(pattern=TAG_PATTERN)],
    review: ReviewDep,
    staff: StaffDep,
    feed: FeedDep,
) -> Tags:
    tags = await review.remove_tag(session_id, tag)
    await feed.sessions_changed([session_id])
    return tags


@router.post(
    "/sessions/{session_id}/notes", status_code=status.HTTP_201_CREATED, responses=_SESSION
)
async def add_note(
    session_id: SessionId, body: NoteIn, review: ReviewDep, staff: StaffDep, feed: FeedDep
) -> Note:
    note = await review.add_note(session_id, body.text, staff)
    await feed.sessions_changed([session_id])
    return note


@router.post("/sessions/{session_id}/review", responses=_SESSION)
async def mark_reviewed(
    session_id: SessionId, body: ReviewIn, review: ReviewDep, staff: StaffDep, feed: FeedDep
) -> Reviewed:
    reviewed = await review.review(session_id, body.reviewed, staff)
    await feed.sessions_changed([session_id])
    return reviewed


@router.post("/turns/{turn_id}/label", responses={**_STAFF, 404: {"description": "no such turn"}})
async def label_turn(
    turn_id: Annotated[int, PathParam(ge=1)], body: LabelIn, review: ReviewDep, staff: StaffDep
) -> Labelled:
    """The intent this turn should have been recognised as (training data)."""
    return await review.label(turn_id, body.intent, staff)


@router.get("/stats", responses=_STAFF)
async def stats(
    review: ReviewDep,
    staff: StaffDep,
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
) -> Stats:
    if date_from and date_to and date_to < date_from:
        raise BadDateRange()
    return await review.stats(date_from, date_to)


@router.get("/export", responses=_SUPERVISOR, response_class=StreamingResponse)
async def export(
    exports: ExportDep,
    staff: SupervisorDep,
    filters: FiltersDep,
    format: Annotated[Literal["jsonl", "csv"], Query()] = "jsonl",
) -> StreamingResponse:
    """One JSON line or CSV row per turn of the matching conversations."""
    body: AsyncIterator[str] = await exports.start_export(filters, format, staff)
    media = "application/x-ndjson" if format == "jsonl" else "text/csv; charset=utf-8"
    return StreamingResponse(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="transcripts.{format}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/training-data", responses=_SUPERVISOR, response_class=PlainTextResponse)
async def training_data(
    exports: ExportDep, staff: SupervisorDep, filters: FiltersDep
) -> PlainTextResponse:
    """Rasa NLU YAML of the labelled turns of the matching conversations."""
    return PlainTextResponse(
        await exports.training_data(filters, staff),
        media_type="application/yaml",
        headers={
            "Content-Disposition": 'attachment; filename="nlu.yml"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/audit", responses=_SUPERVISOR)
async def audit(
    review: ReviewDep, staff: SupervisorDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> AuditPage:
    """Newest first: transcript views, exports, training-data pulls, labels, erasures."""
    return await review.audit(limit)


@router.delete(
    "/customers/{customer}/conversations",
    responses={**_SUPERVISOR, 503: {"description": "Redis or Rasa unreachable; ask again"}},
)
async def erase_customer(
    customer: Annotated[str, PathParam(min_length=1, max_length=200)],
    erasure: ErasureDep,
    staff: SupervisorDep,
    feed: FeedDep,
) -> Erased:
    """Erase the customer's transcripts, gateway sessions and Rasa trackers."""
    erased = await erasure.erase(customer, staff)
    await feed.publish({"type": "erased"})
    return erased
