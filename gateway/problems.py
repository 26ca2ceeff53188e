"""Domain errors and their single RFC 9457 (``application/problem+json``) rendering.

Callers may rely on: raising any ``Problem`` subclass from an endpoint or dependency
yields a response with that class's ``status``, ``Content-Type:
application/problem+json`` and a body ``{"type", "title", "status", "detail"}`` whose
``type`` is a stable URI. Request validation errors are rendered the same way (422).
"""

from __future__ import annotations

from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

PROBLEM_BASE = "https://bank.example/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"


class Problem(Exception):
    """Base for errors that have an HTTP meaning. Subclasses set the class vars."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal"
    title: ClassVar[str] = "Internal error"
    headers: ClassVar[dict[str, str]] = {}

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title

    def response_headers(self) -> dict[str, str]:
        return dict(self.headers)


class InvalidCredentials(Problem):
    status = 401
    slug = "invalid-credentials"
    title = "Invalid username or password"
    headers = {"WWW-Authenticate": "Bearer"}


class InvalidRefreshToken(Problem):
    status = 401
    slug = "invalid-refresh-token"
    title = "Refresh token is invalid, expired or already used"
    headers = {"WWW-Authenticate": "Bearer"}


class TooManyLoginAttempts(Problem):
    status = 429
    slug = "too-many-login-attempts"
    title = "Too many failed logins; try again later"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many failed logins; try again in {retry_after} seconds")
        self.retry_after = retry_after

    def response_headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class IdentityUnavailable(Problem):
    status = 503
    slug = "identity-unavailable"
    title = "The identity service is unavailable"


class StoreUnavailable(Problem):
    status = 503
    slug = "store-unavailable"
    title = "The session store is unavailable"


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail}
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


async def _render_problem(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(exc.status, exc.slug, exc.title, exc.detail, exc.response_headers())


async def _render_validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
    return problem_response(422, "validation", "Request is invalid", "See errors", errors=errors)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _render_problem)
    app.add_exception_handler(RequestValidationError, _render_validation)
