"""Who may use the console: the staff dependencies every console route takes.

``StaffDep``: a valid access token (``Authorization: Bearer``) with role ``agent`` or
``supervisor``; none or an invalid one -> 401, any other (a customer's) -> 403.
``SupervisorDep``: the same, and role ``supervisor`` (an agent -> 403).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from gateway.auth.tokens import TokenError, TokenService
from gateway.problems import Problem

STAFF_ROLES = frozenset({"agent", "supervisor"})


@dataclass(frozen=True)
class Staff:
    sub: str
    name: str
    supervisor: bool
    username: str | None = None
    expires_at: int | None = None  # the access token's ``exp`` (live streams end then)

    @property
    def handle(self) -> str:
        """How the audit log and notes name this person."""
        return self.username or self.sub


class NotAuthenticated(Problem):
    status, slug, title = 401, "not-authenticated", "A valid staff access token is required"
    headers = {"WWW-Authenticate": "Bearer"}


class NotStaff(Problem):
    status, slug, title = 403, "not-staff", "Only support staff may use the console"


class NotSupervisor(Problem):
    status, slug, title = 403, "not-supervisor", "Only a supervisor may do this"


def get_staff(request: Request, authorization: Annotated[str | None, Header()] = None) -> Staff:
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
    return Staff(
        sub=claims.sub,
        name=claims.name or claims.username or claims.sub,
        supervisor="supervisor" in claims.roles,
        username=claims.username,
        expires_at=claims.exp,
    )


def get_supervisor(staff: Annotated[Staff, Depends(get_staff)]) -> Staff:
    if not staff.supervisor:
        raise NotSupervisor()
    return staff


StaffDep = Annotated[Staff, Depends(get_staff)]
SupervisorDep = Annotated[Staff, Depends(get_supervisor)]
