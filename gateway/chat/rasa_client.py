"""HTTP client for Rasa's REST channel (``/webhooks/rest/webhook``).

Callers may rely on: ``send`` returns the list of Rasa responses (dicts) or raises
``BotUnavailable`` -- for connection errors, timeouts (RASA_TIMEOUT_SECONDS), non-2xx
answers and bodies that are not a JSON list (a turn's NLU reaches the transcripts
through Rasa's event broker, ``transcripts/broker.py``). ``erase_tracker`` deletes one
(erasure; raises ``BotUnavailable`` unless Rasa confirms). ``open`` must be called
inside the running event loop before the first ``send``; ``close`` releases the pooled
connections.

Why aiohttp and not httpx here: this call is on every turn's path, and on this machine
httpx spent ~2.5 ms of CPU per call against aiohttp's ~0.5 ms (``bench/gateway.py``,
py-spy), which was most of the latency the gateway added over Rasa itself.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import quote

import aiohttp

log = logging.getLogger(__name__)
WEBHOOK = "/webhooks/rest/webhook"


class BotUnavailable(Exception):
    pass


class RasaClient:
    def __init__(self, base_url: str, timeout_seconds: float, *, auth_token: str) -> None:
        self._base = base_url.rstrip("/")
        # The REST channel reads the header (bot/channels.py); Rasa's own HTTP API
        # reads ``?token=`` (its --auth-token).
        self._headers = {"X-Rasa-Token": auth_token}
        self._params = {"token": auth_token}
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(
        self, sender: str, message: str, metadata: dict[str, Any]
    ) -> list[dict[str, Any]]:
        if self._session is None:
            raise BotUnavailable("the Rasa client is not open")
        payload = {"sender": sender, "message": message, "metadata": metadata}
        try:
            async with self._session.post(
                self._base + WEBHOOK, json=payload, headers=self._headers
            ) as response:
                if response.status >= 300:
                    raise BotUnavailable(f"rasa answered HTTP {response.status}")
                body = await response.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            log.warning("rasa unavailable: %r", exc)
            raise BotUnavailable(str(exc) or type(exc).__name__) from exc
        if not isinstance(body, list):
            raise BotUnavailable("rasa answered something other than a list")
        return [item for item in body if isinstance(item, dict)]

    async def erase_tracker(self, sender: str) -> None:
        """Delete the conversation's tracker from Rasa's tracker store. Rasa 3.6 has no
        delete, and replacing the events with ``[]`` (``PUT .../tracker/events``) keeps
        them in the Redis tracker store (it merges), so the stack's REST channel answers
        ``DELETE /webhooks/rest/conversations/{id}`` (``bot/erasure.py``). Raises
        ``BotUnavailable`` when Rasa does not confirm it."""
        if self._session is None:
            raise BotUnavailable("the Rasa client is not open")
        url = f"{self._base}/webhooks/rest/conversations/{quote(sender, safe='')}"
        try:
            async with self._session.delete(url, headers=self._headers) as response:
                if response.status >= 300:
                    raise BotUnavailable(f"rasa answered HTTP {response.status}")
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise BotUnavailable(str(exc) or type(exc).__name__) from exc
