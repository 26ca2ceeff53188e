"""The action server's part of observability, through its real Sanic app over ASGI: a
``/webhook`` call continues the turn's trace from the tracker's metadata and sends it on
to core_banking (``traceparent`` header), its log line carries the trace id, and
``GET /metrics`` answers without the X-Action-Token."""

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sanic import Sanic

import actions.core_banking_api.client
from actions.observability import JsonFormatter
from actions.server import build_app
from actions.settings import ActionSettings
from tests.actions.conftest import SESSION

Sanic.test_mode = True  # one real app per test; Sanic otherwise refuses a second "rasa_sdk"
TOKEN = "test-action-token"
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_SPAN = "b7ad6b7169203331"


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter("actions"))
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@asynccontextmanager
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """The real app over ASGI, started through the ASGI lifespan as a server would."""
    app = build_app(ActionSettings(action_server_token=TOKEN))
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    started = asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "lifespan.startup.complete":
            started.set()

    await inbox.put({"type": "lifespan.startup"})
    lifespan = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, send)
    )
    await started.wait()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://actions") as http:
            yield http
    finally:
        # Sanic 21.12's ASGI lifespan handles the startup message only; nothing to stop.
        lifespan.cancel()
        with suppress(asyncio.CancelledError, AttributeError):
            await lifespan


def webhook_body(metadata: dict[str, Any]) -> dict[str, Any]:
    tracker = {
        "sender_id": SESSION,
        "slots": {},
        "events": [],
        "paused": False,
        "followup_action": None,
        "active_loop": {},
        "latest_action_name": "action_listen",
        "latest_message": {
            "text": "balance?",
            "intent": {"name": "check_balance"},
            "entities": [],
            "metadata": metadata,
            "message_id": "m1",
        },
    }
    return {
        "next_action": "action_check_balance",
        "sender_id": SESSION,
        "tracker": tracker,
        "domain": {},
        "version": "3.6.21",
    }


async def test_webhook_continues_the_turns_trace_to_core_banking(
    use_core_banking: Any, spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[httpx.Request] = []

    async def record(request: httpx.Request) -> None:
        sent.append(request)

    monkeypatch.setattr(
        actions.core_banking_api.client,
        "_client",
        httpx.AsyncClient(base_url=use_core_banking.url, event_hooks={"request": [record]}),
    )
    lines, logger = Lines(), logging.getLogger("actions.metrics")
    logger.addHandler(lines)
    logger.setLevel(logging.INFO)
    metadata = {
        **use_core_banking.metadata("demo001"),
        "traceparent": f"00-{TRACE_ID}-{PARENT_SPAN}-01",
    }
    spans.clear()
    try:
        async with client() as http:
            response = await http.post(
                "/webhook", json=webhook_body(metadata), headers={"X-Action-Token": TOKEN}
            )
    finally:
        logger.removeHandler(lines)
    assert response.status_code == 200, response.text
    assert response.json()["responses"][0]["response"] == "utter_balances_intro"

    [span] = [s for s in spans.get_finished_spans() if s.name == "action action_check_balance"]
    assert span.context is not None and span.parent is not None
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert format(span.parent.span_id, "016x") == PARENT_SPAN
    own = format(span.context.span_id, "016x")
    assert sent and all(r.headers["traceparent"].startswith(f"00-{TRACE_ID}-{own}-") for r in sent)
    [line] = [x for x in lines.lines if x["msg"].startswith("action action_check_balance")]
    assert line["trace_id"] == TRACE_ID and line["service"] == "actions"


async def test_metrics_are_open_and_count_actions() -> None:
    async with client() as http:
        refused = await http.post("/webhook", json={})  # no token
        response = await http.get("/metrics")  # no token either
    assert refused.status_code == 401
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    body = response.text
    assert "process_cpu_seconds_total" in body
    assert "actions_action_duration_seconds" in body
    assert 'actions_http_requests_total{method="POST",route="/webhook"' not in body  # refused


async def test_a_malformed_traceparent_starts_a_new_trace(spans: InMemorySpanExporter) -> None:
    spans.clear()
    async with client() as http:
        await http.post(
            "/webhook",
            json=webhook_body({"traceparent": "junk"}),
            headers={"X-Action-Token": TOKEN},
        )
    [span] = [s for s in spans.get_finished_spans() if s.name.startswith("action ")]
    assert span.parent is None
