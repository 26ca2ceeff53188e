"""Domain errors and their single rendering as RFC 9457 problem details.

Every error a client can see is a `Problem` subclass carrying its HTTP status and a stable
`type` URI; `problem_handler` is the one place that turns them into responses. Framework
errors (validation, unknown routes) are adapted into the same shape.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from core_banking.dberrors import is_connection_lost, is_retryable

log = logging.getLogger(__name__)
PROBLEM_BASE = "https://bank.example/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"


class Problem(Exception):
    status: int = 500
    slug: str = "internal"
    title: str = "Internal error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    @property
    def type_uri(self) -> str:
        return PROBLEM_BASE + self.slug


class BadRequest(Problem):
    status, slug, title = 400, "bad-request", "Bad request"


class Unauthorized(Problem):
    status, slug, title = 401, "unauthorized", "Unauthorized"


class InvalidToken(Unauthorized):
    """Bearer token missing or unusable; RFC 6750 asks for a WWW-Authenticate challenge."""

    def __init__(self, detail: str = "Missing or invalid bearer token") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="core_banking"'})


class InvalidCredentials(Unauthorized):
    slug, title = "invalid-credentials", "Invalid credentials"


class Forbidden(Problem):
    status, slug, title = 403, "forbidden", "Forbidden"


class NotFound(Problem):
    status, slug, title = 404, "not-found", "Not found"


class MethodNotAllowed(Problem):
    status, slug, title = 405, "method-not-allowed", "Method not allowed"


class ValidationFailed(Problem):
    status, slug, title = 422, "validation-error", "Request validation failed"


class Conflict(Problem):
    status, slug, title = 409, "conflict", "Conflict"


class InvalidState(Conflict):
    slug, title = "invalid-state", "Not possible in the resource's current state"


class DuplicatePayee(Conflict):
    slug, title = "duplicate-payee", "This payee already exists"


class StepUpAlreadyEnrolled(Conflict):
    slug, title = "step-up-already-enrolled", "An authenticator app is already enrolled"


class StepUpRequired(Forbidden):
    slug, title = "step-up-required", "This needs step-up, and no step-up method is enrolled"


class InsufficientFunds(ValidationFailed):
    slug, title = "insufficient-funds", "Insufficient funds"


class IdempotencyKeyReused(ValidationFailed):
    slug, title = "idempotency-key-reused", "Idempotency-Key was used with another request"


class CurrencyMismatch(ValidationFailed):
    slug, title = "currency-mismatch", "Currency does not match the account"


class SameAccount(ValidationFailed):
    slug, title = "same-account", "Source and destination are the same account"


class InvalidIban(ValidationFailed):
    slug, title = "invalid-iban", "Not a valid IBAN"


class UnknownAccount(ValidationFailed):
    slug, title = "unknown-account", "No such account at this bank"


class DailyLimitExceeded(ValidationFailed):
    slug, title = "daily-limit-exceeded", "Daily transfer limit exceeded"


class InvalidConfirmationCode(ValidationFailed):
    slug, title = "invalid-confirmation-code", "Wrong confirmation code"


class ConfirmationExpired(ValidationFailed):
    slug, title = "confirmation-expired", "The held transfer has expired"


class GiftCardExpired(ValidationFailed):
    slug, title = "gift-card-expired", "The gift card has expired"


class GiftCardBlocked(ValidationFailed):
    slug, title = "gift-card-blocked", "The gift card is blocked"


class GiftCardInsufficientBalance(ValidationFailed):
    slug, title = "gift-card-insufficient-balance", "The gift card balance is too low"


class TooManyAttempts(Problem):
    status, slug, title = 429, "too-many-attempts", "Too many failed attempts"


class ServiceUnavailable(Problem):
    status, slug, title = 503, "unavailable", "Service unavailable"


_HTTP_STATUS_PROBLEMS: dict[int, type[Problem]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    503: ServiceUnavailable,
}


def render(problem: Problem, request: Request) -> JSONResponse:
    body: dict[str, Any] = {
        "type": problem.type_uri,
        "title": problem.title,
        "status": problem.status,
        "instance": request.url.path,
        **problem.extra,
    }
    if problem.detail:
        body["detail"] = problem.detail
    return JSONResponse(
        jsonable_encoder(body),
        status_code=problem.status,
        headers=problem.headers,
        media_type=PROBLEM_MEDIA_TYPE,
    )


async def problem_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return render(exc, request)


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors: Sequence[Any] = exc.errors()
    # Drop "input"/"ctx": echoing a submitted password back in an error is a leak.
    safe = [{"loc": e.get("loc"), "msg": e.get("msg"), "type": e.get("type")} for e in errors]
    return render(ValidationFailed(extra={"errors": safe}), request)


async def _http_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    problem_cls = _HTTP_STATUS_PROBLEMS.get(exc.status_code, Problem)
    problem = problem_cls(str(exc.detail) if exc.detail else None, headers=exc.headers)
    problem.status = exc.status_code
    return render(problem, request)


async def _database_handler(request: Request, exc: Exception) -> JSONResponse:
    # Money paths retry these themselves (core_banking.transactions) and end in a 503
    # there; this catches the rest (reads, single-statement writes). A lost connection or
    # an aborted transaction is the database's state, not a bug: 503, try again.
    assert isinstance(exc, DBAPIError)
    if is_connection_lost(exc) or is_retryable(exc):
        problem = ServiceUnavailable(
            "The database is temporarily unavailable; please retry",
            headers={"Retry-After": "1"},
        )
        return render(problem, request)
    log.error("database error on %s", request.url.path, exc_info=exc)
    return await _unhandled_handler(request, exc)


async def _unhandled_handler(request: Request, exc: Exception) -> JSONResponse:
    # Starlette still logs the traceback; the client gets a stable shape and no internals.
    return render(Problem(), request)


def install(app: FastAPI) -> None:
    app.add_exception_handler(Problem, problem_handler)
    app.add_exception_handler(Exception, _unhandled_handler)
    app.add_exception_handler(DBAPIError, _database_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_exception_handler)
