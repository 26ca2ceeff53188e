"""Async client for core_banking's `/v1` API, called with the customer's own token.

Errors come back as `CoreBankingError` subclasses so actions can answer plainly.
"""

from typing import Any

import httpx

from actions.settings import get_settings


class CoreBankingError(Exception):
    """core_banking could not answer the request."""


class CoreBankingUnavailable(CoreBankingError):
    """core_banking is down, slow or failing (5xx, timeout, connection refused)."""


class CoreBankingUnauthorized(CoreBankingError):
    """The customer's token was refused (expired or revoked)."""


_client: httpx.AsyncClient | None = None


def _http() -> httpx.AsyncClient:
    # One pooled client per process: the action server handles many conversations
    # at once, so connection reuse matters and nothing here may block the loop.
    global _client
    if _client is None:
        settings = get_settings()
        _client = httpx.AsyncClient(
            base_url=settings.core_banking_url,
            timeout=httpx.Timeout(settings.core_banking_timeout_seconds),
        )
    return _client


async def _get(path: str, token: str, params: dict[str, Any] | None = None) -> Any:
    try:
        response = await _http().get(
            path, params=params, headers={"Authorization": f"Bearer {token}"}
        )
    except httpx.HTTPError as exc:
        raise CoreBankingUnavailable(str(exc)) from exc
    if response.status_code == 401:
        raise CoreBankingUnauthorized(response.text)
    if response.status_code >= 500:
        raise CoreBankingUnavailable(f"{response.status_code}: {response.text[:200]}")
    if response.status_code >= 400:
        raise CoreBankingError(f"{response.status_code}: {response.text[:200]}")
    return response.json()


async def list_accounts(token: str) -> list[dict[str, Any]]:
    """The customer's accounts: dicts with id, number, type, currency, balance_minor,
    available_minor."""
    body = await _get("/v1/accounts", token)
    return list(body["data"])
