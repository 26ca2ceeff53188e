"""``python -m actions.server``: the rasa-sdk action server, open only to Rasa.

rasa-sdk's server runs any action for anyone who can POST a tracker to ``/webhook``; a
forged tracker could then spend another customer's gift card (issue 13). Here every
request but ``GET /health`` must carry ``X-Action-Token: <ACTION_SERVER_TOKEN>``,
checked in constant time before any action runs; Rasa sends it
(``bot/endpoints.yml``). It listens on ACTION_SERVER_HOST (127.0.0.1 unless a
deployment says otherwise) and ACTION_SERVER_PORT; CORS is off (no browser calls it).
With APP_ENV=production the development token is refused. ``GET /metrics`` is open like
``/health`` (internal; ``actions/metrics.py``); log lines are JSON (``actions/observability.py``).
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from rasa_sdk.endpoint import create_app
from sanic import Sanic, response
from sanic.request import Request

from actions import metrics
from actions.observability import configure_logging, configure_tracing
from actions.settings import DEFAULT_ACTION_SERVER_TOKEN, ActionSettings, get_settings

log = logging.getLogger(__name__)
OPEN_PATHS = frozenset({"/health", "/metrics"})


def build_app(settings: ActionSettings) -> Sanic:
    if settings.app_env == "production" and settings.action_server_token in (
        "",
        DEFAULT_ACTION_SERVER_TOKEN,
    ):
        raise SystemExit("ACTION_SERVER_TOKEN must be set to a non-default value in production")
    app = create_app("actions", cors_origins=None)
    expected = settings.action_server_token.encode()

    @app.middleware("request")
    async def only_rasa(request: Request) -> Any:
        if request.path in OPEN_PATHS and request.method == "GET":
            return None
        supplied = (request.headers.get("X-Action-Token") or "").encode()
        if not hmac.compare_digest(supplied, expected):
            log.warning(
                "refused %s %s without a valid X-Action-Token", request.method, request.path
            )
            return response.json({"error": "missing or wrong X-Action-Token"}, status=401)
        return None

    metrics.install(app, metrics.Metrics())
    return app


def main() -> None:
    configure_logging("actions")
    configure_tracing("actions")
    settings = get_settings()
    app = build_app(settings)
    app.run(settings.action_server_host, settings.action_server_port, workers=1, access_log=False)


if __name__ == "__main__":
    main()
