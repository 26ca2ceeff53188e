"""HTTP client for Rasa's REST channel (``/webhooks/rest/webhook``).

Callers may rely on: ``send`` returns the list of Rasa responses (dicts) or raises
``BotUnavailable`` -- for connection errors, timeouts (RASA_TIMEOUT_SECONDS), non-2xx
answers and bodies that are not a JSON list (a turn's NLU reaches the transcripts
through Rasa's event broker, ``transcripts/broker.py``). ``task`` says which task the
conversation is in (``sequence.TaskState``; None when Rasa cannot say, never raises) and
``held_notice`` the bot's words for requests held until it is done (``[]`` when it
cannot say), both from the stack's REST channel (``bot/task_state.py``).
``erase_tracker`` deletes one (erasure; raises ``BotUnavailable`` unless Rasa
confirms). ``open`` must be called inside the running event loop before the first
``send``; ``close`` releases the pooled connections.

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

from gateway.chat.sequence import TaskState

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

    def _conversation(self, sender: str, what: str) -> str:
        return f"{self._base}/webhooks/rest/conversations/{quote(sender, safe='')}/{what}"

    async def task(self, sender: str) -> TaskState | None:
        if self._session is None:
            return None
        try:
            async with self._session.get(
                self._conversation(sender, "task"), headers=self._headers
            ) as response:
                if response.status >= 300:
                    raise ValueError(f"rasa answered HTTP {response.status}")
                body = await response.json(content_type=None)
            task, asks = body.get("task"), body.get("asks")
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError, AttributeError) as exc:
            log.warning("rasa could not say which task %s is in: %r", sender, exc)
            return None
        return TaskState(
            task if isinstance(task, str) else None, asks if isinstance(asks, str) else None
        )

    async def held_notice(self, sender: str, requests: list[str]) -> list[dict[str, Any]]:
        if self._session is None or not requests:
            return []
        try:
            async with self._session.post(
                self._conversation(sender, "held"),
                json={"requests": requests},
                headers=self._headers,
            ) as response:
                if response.status >= 300:
                    raise ValueError(f"rasa answered HTTP {response.status}")
                body = await response.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            log.warning("rasa could not word the held requests of %s: %r", sender, exc)
            return []
        return [item for item in body if isinstance(item, dict)] if isinstance(body, list) else []

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
