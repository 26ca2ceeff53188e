"""The one gateway call the action server makes: resolving a masked gift-card code.

The gateway replaces gift-card codes in user text with `[giftcard:<ref>]` before Rasa
sees the message, so codes never sit in Rasa's tracker store, logs or transcripts. Right
before an action needs the code it asks the gateway:

    POST {GATEWAY_URL}/internal/pii/resolve  {"credential": <the turn's sealed
    credential, as received>, "ref": <ref>}   X-Service-Token: <SERVICE_TOKEN>
    → 200 {"kind": "gift_card", "value": <the code as typed>} | 404 (unknown, expired,
      or typed in another session) | 401 (credential expired or not the gateway's)

The gateway takes the session from the credential it sealed, never from this server,
so a reference resolves only in the conversation where its code was typed.

Resolving does not consume the reference, so a check followed by a redemption may
resolve it twice. The resolved code is used for one core_banking call and never stored.
"""

import logging

import httpx

from actions.settings import get_settings

log = logging.getLogger(__name__)


class GatewayUnavailable(Exception):
    """The gateway did not answer usefully (down, slow, 5xx or a refused service token)."""


_client: httpx.AsyncClient | None = None


def _http() -> httpx.AsyncClient:
    global _client
    if _client is None:
        settings = get_settings()
        _client = httpx.AsyncClient(
            base_url=settings.gateway_url,
            timeout=httpx.Timeout(settings.core_banking_timeout_seconds),
            limits=httpx.Limits(keepalive_expiry=settings.keepalive_seconds),
        )
    return _client


async def resolve_gift_card_ref(credential: str, ref: str) -> str | None:
    """The gift-card code behind `ref` in the credential's session, or None when the
    gateway no longer knows it (expired: ask the customer to type the code again)."""
    headers = {"X-Service-Token": get_settings().service_token}
    try:
        response = await _http().post(
            "/internal/pii/resolve", json={"credential": credential, "ref": ref}, headers=headers
        )
    except httpx.HTTPError as exc:
        raise GatewayUnavailable(str(exc)) from exc
    if response.status_code == 404 or (
        response.status_code == 401 and "bad-credential" in response.text
    ):
        return None
    if response.status_code != 200:
        if response.status_code == 401:
            log.error("the gateway refused SERVICE_TOKEN; check it matches the gateway's")
        raise GatewayUnavailable(f"{response.status_code}: {response.text[:200]}")
    try:
        body = response.json()
    except ValueError as exc:
        raise GatewayUnavailable("resolve answered with something other than JSON") from exc
    value = body.get("value") if isinstance(body, dict) else None
    if not isinstance(value, str) or not value or body.get("kind", "gift_card") != "gift_card":
        return None
    return value


async def queue_position(credential: str) -> int | None:
    """Where the credential's session stands in the queue for a person (1 = next), or
    None when the gateway cannot say (the handoff goes ahead all the same)."""
    headers = {"X-Service-Token": get_settings().service_token}
    try:
        response = await _http().post(
            "/internal/handoff/position", json={"credential": credential}, headers=headers
        )
        body = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("no queue position from the gateway: %r", exc)
        return None
    position = body.get("position") if isinstance(body, dict) else None
    return position if isinstance(position, int) and position > 0 else None
