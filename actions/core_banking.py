"""Async client for core_banking's `/v1` API, called with the customer's own token.

Errors come back as `CoreBankingError` subclasses so actions can answer plainly:
`CoreBankingUnavailable` (down, slow, 5xx), `CoreBankingUnauthorized` (token refused),
`CoreBankingRejected` (a 4xx with core_banking's problem+json).
"""

from typing import Any

import httpx

from actions.observability import traceparent
from actions.settings import get_settings


class CoreBankingError(Exception):
    """core_banking could not answer the request."""


class CoreBankingUnavailable(CoreBankingError):
    """core_banking is down, slow or failing (5xx, timeout, connection refused)."""


class CoreBankingUnauthorized(CoreBankingError):
    """The customer's token was refused (expired or revoked)."""


class CoreBankingRejected(CoreBankingError):
    """core_banking refused the request (4xx): `problem` is its problem+json body and
    `kind` the last segment of the problem `type` (e.g. "insufficient-funds")."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(f"{status}: {problem.get('title') or problem.get('detail')}")
        self.status = status
        self.problem = problem
        self.kind = str(problem.get("type", "")).rstrip("/").rsplit("/", 1)[-1]

    @classmethod
    def from_response(cls, response: httpx.Response) -> "CoreBankingRejected":
        try:
            problem = response.json()
        except ValueError:
            problem = {}
        return cls(response.status_code, problem if isinstance(problem, dict) else {})


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


def _checked(response: httpx.Response) -> Any:
    if response.status_code == 401:
        raise CoreBankingUnauthorized(response.text)
    if response.status_code >= 500:
        raise CoreBankingUnavailable(f"{response.status_code}: {response.text[:200]}")
    if response.status_code >= 400:
        raise CoreBankingRejected.from_response(response)
    return response.json() if response.content else None


async def _request(
    method: str,
    path: str,
    token: str,
    *,
    params: dict[str, Any] | None = None,
    body: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    if parent := traceparent():  # core_banking continues the chat turn's trace
        headers["traceparent"] = parent
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    try:
        response = await _http().request(method, path, params=params, json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise CoreBankingUnavailable(str(exc)) from exc
    return _checked(response)


async def list_accounts(token: str) -> list[dict[str, Any]]:
    """The customer's accounts: dicts with id, number, type, currency, balance_minor,
    available_minor."""
    return list((await _request("GET", "/v1/accounts", token))["data"])


async def list_transactions(
    token: str,
    account_id: str,
    *,
    q: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Newest first; at most `limit` items of one account's history."""
    params: dict[str, Any] = {"limit": limit}
    for key, value in (("q", q), ("from", date_from), ("to", date_to)):
        if value:
            params[key] = value
    body = await _request("GET", f"/v1/accounts/{account_id}/transactions", token, params=params)
    return list(body["data"])


async def list_cards(token: str) -> list[dict[str, Any]]:
    return list((await _request("GET", "/v1/cards", token))["data"])


async def card_action(
    token: str, card_id: str, action: str, body: dict[str, Any] | None = None
) -> Any:
    """`action` is one of freeze, unfreeze, report-lost."""
    return await _request("POST", f"/v1/cards/{card_id}/{action}", token, body=body or {})


async def list_payees(token: str) -> list[dict[str, Any]]:
    return list((await _request("GET", "/v1/payees", token))["data"])


async def create_transfer(token: str, body: dict[str, Any], idempotency_key: str) -> Any:
    return await _request(
        "POST", "/v1/transfers", token, body=body, idempotency_key=idempotency_key
    )


async def confirm_transfer(token: str, transfer_id: str, code: str) -> Any:
    return await _request(
        "POST", f"/v1/transfers/{transfer_id}/confirm", token, body={"code": code}
    )


async def cancel_transfer(token: str, transfer_id: str) -> Any:
    return await _request("POST", f"/v1/transfers/{transfer_id}/cancel", token)


async def create_payee(token: str, name: str, iban: str) -> dict[str, Any]:
    """201 with the payee; a payee with the same IBAN → CoreBankingRejected 409
    (kind "duplicate-payee"); a bad IBAN → 422 (kind "invalid-iban")."""
    return dict(await _request("POST", "/v1/payees", token, body={"name": name, "iban": iban}))


async def delete_payee(token: str, payee_id: str) -> None:
    await _request("DELETE", f"/v1/payees/{payee_id}", token)


async def buy_gift_card(token: str, body: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
    """201 with the card; its `code` is only in the first response (null in replays)."""
    return dict(
        await _request("POST", "/v1/gift-cards", token, body=body, idempotency_key=idempotency_key)
    )


async def gift_card_balance(token: str, code: str) -> dict[str, Any]:
    """{last4, status, balance_minor, currency, expires_at}; unknown code → 404, too many
    wrong codes → 429 (kind "too-many-attempts")."""
    return dict(await _request("POST", "/v1/gift-cards/balance", token, body={"code": code}))


async def redeem_gift_card(
    token: str, code: str, to_account_id: str, amount_minor: int | None, idempotency_key: str
) -> dict[str, Any]:
    """Moves `amount_minor` (None: the whole balance) from the card to the account."""
    body: dict[str, Any] = {"code": code, "to_account_id": to_account_id}
    if amount_minor is not None:
        body["amount_minor"] = amount_minor
    return dict(
        await _request(
            "POST", "/v1/gift-cards/redeem", token, body=body, idempotency_key=idempotency_key
        )
    )


async def guest_gift_card_balance(code: str, requester: str) -> dict[str, Any]:
    """The balance of a gift card for a guest (no login), asked with the service token;
    `requester` (the chat session) is what wrong codes are counted against."""
    headers = {"X-Service-Token": get_settings().service_token}
    if parent := traceparent():
        headers["traceparent"] = parent
    try:
        response = await _http().post(
            "/internal/gift-cards/balance",
            headers=headers,
            json={"code": code, "requester": requester},
        )
    except httpx.HTTPError as exc:
        raise CoreBankingUnavailable(str(exc)) from exc
    return dict(_checked(response))


def say_failure(dispatcher: Any, error: CoreBankingError) -> None:
    """The customer's plain answer when a call failed for a reason that is not about the
    request itself: the login expired, or the bank could not be reached."""
    if isinstance(error, CoreBankingUnauthorized):
        dispatcher.utter_message(response="utter_session_expired")
    else:
        dispatcher.utter_message(response="utter_backend_unavailable")
