"""HTTP client for core_banking's identity check (the gateway owns no passwords).

Callers may rely on: ``verify`` returns the ``Identity`` for good credentials, raises
``InvalidCredentials`` on a 401, and ``IdentityUnavailable`` for anything else
(connection refused, timeout, 5xx, malformed body).
"""

from __future__ import annotations

import logging

import httpx
from pydantic import ValidationError

from gateway.auth.schemas import Identity
from gateway.problems import IdentityUnavailable, InvalidCredentials, TooManyLoginAttempts

log = logging.getLogger(__name__)


class IdentityClient:
    def __init__(self, http: httpx.AsyncClient, service_token: str) -> None:
        self._http = http
        self._service_token = service_token

    async def verify(self, username: str, password: str, client_ip: str) -> Identity:
        """``client_ip``: the customer's address, for core_banking's own throttling
        (it trusts the field only from a caller with the service token)."""
        try:
            response = await self._http.post(
                "/internal/auth/verify",
                json={"username": username, "password": password, "client_ip": client_ip},
                headers={"X-Service-Token": self._service_token},
            )
        except httpx.HTTPError as exc:
            log.warning("identity service unreachable: %s", exc)
            raise IdentityUnavailable() from exc
        if response.status_code == 401:
            # Also what a wrong SERVICE_TOKEN looks like; logged so operators can tell.
            log.info("identity service refused credentials: %s", response.text[:200])
            raise InvalidCredentials()
        if response.status_code == 429:
            raise TooManyLoginAttempts(_retry_after(response.headers.get("Retry-After")))
        if response.status_code != 200:
            log.warning("identity service answered %s", response.status_code)
            raise IdentityUnavailable()
        try:
            return Identity.model_validate_json(response.content)
        except ValidationError as exc:
            raise IdentityUnavailable("identity service sent an unexpected answer") from exc


def _retry_after(value: str | None) -> int:
    try:
        return max(int(value or 1), 1)
    except ValueError:
        return 1
