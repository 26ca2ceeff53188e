"""JSON log lines for the Rasa server (contract: "JSON log lines").

``configure_logging`` runs in ``bot/server.py`` before Rasa starts: the root logger gets
one handler writing one JSON object per record to stdout (``scripts/stack.py`` writes it
to ``var/log/rasa.log``), and Sanic's default logging configuration, which Rasa's server
applies when it creates its app, is pointed at the same formatter. ``ts``, ``level``,
``service``, ``logger``, ``msg`` and, while Rasa works on a chat turn, that turn's W3C
``trace_id``: the REST channel (``bot/channels.py``) reads the ``traceparent`` the gateway
put into the message metadata into ``current_trace`` for the rest of the request.

Rasa itself is not traced (no spans): its log lines carry the trace id, and the action
server continues the trace from the same metadata. gateway, actions and core_banking have
their own copy of the formatter: no Python import crosses the deployables.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any

TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")
# (trace_id, parent span id) of the chat turn being handled, if any.
current_trace: ContextVar[tuple[str, str] | None] = ContextVar("rasa_trace", default=None)


def use_traceparent(value: object) -> None:
    """Make the turn's trace current for this request's task (ignores malformed values)."""
    match = TRACEPARENT.match(value) if isinstance(value, str) else None
    if match and match.group(1) != "0" * 32:
        current_trace.set((match.group(1), match.group(2)))


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str = "rasa", **_ignored: Any) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, timezone.utc)
        line: dict[str, Any] = {
            "ts": ts.isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        turn = current_trace.get()
        if turn is not None:
            line["trace_id"], line["parent_span_id"] = turn
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(service: str = "rasa") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())
    logging.captureWarnings(True)
    # Rasa's server app applies Sanic's defaults (plain text, some on stderr) and then
    # stops Sanic's loggers from propagating: make those defaults JSON on stdout.
    from sanic.log import LOGGING_CONFIG_DEFAULTS

    json_formatter = {"()": f"{__name__}.JsonFormatter", "service": service}
    LOGGING_CONFIG_DEFAULTS["formatters"] = {"generic": json_formatter, "access": json_formatter}
    for sanic_handler in LOGGING_CONFIG_DEFAULTS["handlers"].values():
        sanic_handler["stream"] = sys.stdout
