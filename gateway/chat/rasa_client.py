"""HTTP client for Rasa's REST channel (``/webhooks/rest/webhook``).

Callers may rely on: ``send`` returns the list of Rasa responses (dicts) or raises
``BotUnavailable`` -- for connection errors, timeouts (RASA_TIMEOUT_SECONDS), non-2xx
answers and bodies that are not a JSON list.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

log = logging.getLogger(__name__)


class BotUnavailable(Exception):
    pass


class RasaClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def send(
        self, sender: str, message: str, metadata: dict[str, Any]
    ) -> list[dict[str, Any]]:
        try:
            response = await self._http.post(
                "/webhooks/rest/webhook",
                json={"sender": sender, "message": message, "metadata": metadata},
            )
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("rasa unavailable: %r", exc)
            raise BotUnavailable(str(exc)) from exc
        if not isinstance(body, list):
            raise BotUnavailable("rasa answered something other than a list")
        return [item for item in body if isinstance(item, dict)]
