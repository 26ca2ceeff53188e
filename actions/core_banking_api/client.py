"""Async client for core_banking's `/v1` API, called with the customer's own token.

Every call returns the models of actions/core_banking_api/models.py, or raises a
`CoreBankingError` (actions/core_banking_api/errors.py).
"""

from typing import Any, Literal, TypeVar

import httpx
from pydantic import BaseModel, ValidationError, parse_obj_as

from actions.core_banking_api.errors import (
    CoreBankingRejected,
    CoreBankingUnauthorized,
    CoreBankingUnavailable,
)
from actions.core_banking_api.models import (
    Account,
    Card,
    CardLoss,
    CardReported,
    DailyLimit,
    GiftCardBalance,
    GiftCardCode,
    GiftCardPurchase,
    GiftCardReceipt,
    GiftCardRedeem,
    GiftCardRedemption,
    GuestGiftCardCode,
    NewPayee,
    NewTransfer,
    Payee,
    SentTransfer,
    Transaction,
    Transfer,
    TransferCode,
)
from actions.observability import traceparent
from actions.settings import get_settings

M = TypeVar("M", bound=BaseModel)

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
            limits=httpx.Limits(keepalive_expiry=settings.keepalive_seconds),
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


def _sent(request: BaseModel) -> dict[str, Any]:
    return request.dict(exclude_none=True)


def _parsed(model: type[M], body: Any) -> M:
    try:
        return model.parse_obj(body)
    except ValidationError as exc:  # not the answer the contract promises
        raise CoreBankingUnavailable(f"unexpected {model.__name__}: {exc}") from exc


def _listed(model: type[M], body: Any) -> list[M]:
    try:
        return parse_obj_as(list[model], body["data"])  # type: ignore[valid-type]
    except (ValidationError, KeyError, TypeError) as exc:
        raise CoreBankingUnavailable(f"unexpected list of {model.__name__}: {exc}") from exc


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


async def list_accounts(token: str) -> list[Account]:
    return _listed(Account, await _request("GET", "/v1/accounts", token))


async def list_transactions(
    token: str,
    account_id: str,
    *,
    q: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    limit: int = 100,
) -> list[Transaction]:
    """Newest first; at most `limit` items of one account's history."""
    params: dict[str, Any] = {"limit": limit}
    for key, value in (("q", q), ("from", date_from), ("to", date_to)):
        if value:
            params[key] = value
    body = await _request("GET", f"/v1/accounts/{account_id}/transactions", token, params=params)
    return _listed(Transaction, body)


async def list_cards(token: str) -> list[Card]:
    return _listed(Card, await _request("GET", "/v1/cards", token))


async def change_card(token: str, card_id: str, action: Literal["freeze", "unfreeze"]) -> Card:
    return _parsed(Card, await _request("POST", f"/v1/cards/{card_id}/{action}", token, body={}))


async def report_card_lost(
    token: str, card_id: str, reason: Literal["lost", "stolen"]
) -> CardReported:
    """Cancels the card for good and issues its replacement."""
    loss = _sent(CardLoss(reason=reason))
    body = await _request("POST", f"/v1/cards/{card_id}/report-lost", token, body=loss)
    return _parsed(CardReported, body)


async def list_payees(token: str) -> list[Payee]:
    return _listed(Payee, await _request("GET", "/v1/payees", token))


async def create_transfer(token: str, transfer: NewTransfer, idempotency_key: str) -> Transfer:
    """A transfer held for step-up comes back with status requires_confirmation."""
    answer = await _request(
        "POST", "/v1/transfers", token, body=_sent(transfer), idempotency_key=idempotency_key
    )
    return _parsed(Transfer, answer)


async def list_transfers(token: str, limit: int = 3) -> list[SentTransfer]:
    """The customer's latest transfers, newest first (the first page of `limit`)."""
    body = await _request("GET", "/v1/transfers", token, params={"limit": limit})
    return _listed(SentTransfer, body)


async def daily_limit(token: str) -> DailyLimit:
    """The daily limit on transfers to other people and what is left of it today."""
    return _parsed(DailyLimit, await _request("GET", "/v1/transfers/daily-limit", token))


async def confirm_transfer(token: str, transfer_id: str, code: str) -> Transfer:
    answer = await _request(
        "POST", f"/v1/transfers/{transfer_id}/confirm", token, body=_sent(TransferCode(code=code))
    )
    return _parsed(Transfer, answer)


async def cancel_transfer(token: str, transfer_id: str) -> Transfer:
    return _parsed(Transfer, await _request("POST", f"/v1/transfers/{transfer_id}/cancel", token))


async def create_payee(token: str, name: str, iban: str) -> Payee:
    """A payee with the same IBAN → CoreBankingRejected 409 (kind "duplicate-payee"); a
    bad IBAN → 422 (kind "invalid-iban")."""
    body = await _request("POST", "/v1/payees", token, body=_sent(NewPayee(name=name, iban=iban)))
    return _parsed(Payee, body)


async def delete_payee(token: str, payee_id: str) -> None:
    await _request("DELETE", f"/v1/payees/{payee_id}", token)


async def buy_gift_card(
    token: str, purchase: GiftCardPurchase, idempotency_key: str
) -> GiftCardReceipt:
    """The receipt's `code` is only in the first response (null in replays)."""
    answer = await _request(
        "POST", "/v1/gift-cards", token, body=_sent(purchase), idempotency_key=idempotency_key
    )
    return _parsed(GiftCardReceipt, answer)


async def gift_card_balance(token: str, code: str) -> GiftCardBalance:
    """Unknown code → 404, too many wrong codes → 429 (kind "too-many-attempts")."""
    lookup = _sent(GiftCardCode(code=code))
    body = await _request("POST", "/v1/gift-cards/balance", token, body=lookup)
    return _parsed(GiftCardBalance, body)


async def redeem_gift_card(
    token: str, code: str, to_account_id: str, amount_minor: int | None, idempotency_key: str
) -> GiftCardRedemption:
    """Moves `amount_minor` (None: the whole balance) from the card to the account."""
    redeem = GiftCardRedeem(code=code, to_account_id=to_account_id, amount_minor=amount_minor)
    answer = await _request(
        "POST", "/v1/gift-cards/redeem", token, body=_sent(redeem), idempotency_key=idempotency_key
    )
    return _parsed(GiftCardRedemption, answer)


async def guest_gift_card_balance(code: str, requester: str) -> GiftCardBalance:
    """The balance of a gift card for a guest (no login), asked with the service token;
    `requester` (the chat session) is what wrong codes are counted against."""
    headers = {"X-Service-Token": get_settings().service_token}
    if parent := traceparent():
        headers["traceparent"] = parent
    try:
        response = await _http().post(
            "/internal/gift-cards/balance",
            headers=headers,
            json=_sent(GuestGiftCardCode(code=code, requester=requester)),
        )
    except httpx.HTTPError as exc:
        raise CoreBankingUnavailable(str(exc)) from exc
    return _parsed(GiftCardBalance, _checked(response))
