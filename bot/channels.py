"""The REST channel, for the stack's gateway only.

Rasa's own ``rest`` channel takes any caller's ``sender`` and ``metadata``, so anyone
who reaches the port could speak in a customer's conversation ("yes" to her pending
transfer). This one is the same channel, under the same name and URL
(``/webhooks/rest/webhook``), refusing with 401 every request that does not carry
``X-Rasa-Token: <RASA_AUTH_TOKEN>`` (the same secret that guards Rasa's HTTP API,
see ``bot/server.py``). Listed in ``bot/credentials.yml`` instead of ``rest``.
Behind the same check it also answers the gateway's erasure (``bot/erasure.py``) and
which task a conversation is in, for several requests in one message
(``bot/task_state.py``).
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request

from bot.erasure import add_erasure_route
from bot.observability import use_traceparent
from bot.task_state import add_task_state_route

log = logging.getLogger(__name__)
DEFAULT_RASA_AUTH_TOKEN = "dev-rasa-token"  # the gateway's default too; refused in production


def auth_token() -> str:
    return os.environ.get("RASA_AUTH_TOKEN") or DEFAULT_RASA_AUTH_TOKEN


class GatewayRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = super().blueprint(on_new_message)
        expected = auth_token().encode()

        @blueprint.middleware("request")
        async def only_the_gateway(request: Request) -> Any:
            supplied = (request.headers.get("X-Rasa-Token") or "").encode()
            if not hmac.compare_digest(supplied, expected):
                return response.json(
                    {
                        "status": "failure",
                        "reason": "NotAuthenticated",
                        "message": "missing or wrong X-Rasa-Token",
                    },
                    status=401,
                )
            # The turn's trace id goes into every log line of this request (contract).
            try:
                body = request.json if request.method == "POST" else None
            except Exception:  # the channel itself answers a malformed body
                body = None
            metadata = body.get("metadata") if isinstance(body, dict) else None
            if isinstance(metadata, dict):
                use_traceparent(metadata.get("traceparent"))
                log.info("turn %s from the gateway", metadata.get("turn_id"))
            return None

        add_erasure_route(blueprint)  # DELETE /webhooks/rest/conversations/{id}
        add_task_state_route(blueprint)  # GET /webhooks/rest/conversations/{id}/task
        return blueprint
