"""The gateway's part of observability: a trace per chat turn whose ``traceparent`` goes
to Rasa in the message metadata and whose id is in the gateway's log line of that turn,
the JSON formatter, and the fallback and handoff counters."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import generate_latest

from gateway.metrics import Metrics
from gateway.observability import JsonFormatter
from gateway.transcripts.writer import count_outcomes
from tests.gateway.conftest import ServerThread, StubRasa
from tests.gateway.test_ws import hello, socket, turn

TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")


class Collect(logging.Handler):
    """Formats at emit time, while the emitting task's span is still current."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter("gateway"))
        self.lines: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def sdk() -> None:
    # The global provider can be set once per process (the gateway runs in a thread of
    # this one); without an SDK the API makes no trace ids and no traceparent is sent.
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider())


@pytest.fixture
def turn_log() -> Iterator[Collect]:
    handler, logger = Collect(), logging.getLogger("gateway.chat.turns")
    logger.addHandler(handler)
    old_level, logger.level = logger.level, logging.INFO
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old_level)


async def test_each_turn_has_its_own_trace_sent_to_rasa_and_logged(
    sdk: None, gateway: ServerThread, stub_rasa: StubRasa, turn_log: Collect
) -> None:
    async with socket(gateway) as ws:
        sid = (await hello(ws))["session_id"]
        await turn(ws, "first traced", "t1")
        await turn(ws, "second traced", "t2")
    parents = [
        stub_rasa.calls_for(text)[-1]["metadata"]["traceparent"]
        for text in ("first traced", "second traced")
    ]
    matches = [TRACEPARENT.match(str(p)) for p in parents]
    assert all(matches), parents
    first, second = (m.group(1) for m in matches if m)
    assert first != second  # one trace per turn, not one per socket
    logged = {
        str(line["msg"]).split()[1]: line
        for line in turn_log.lines
        if str(line["msg"]).startswith("turn ")
    }
    assert logged[f"{sid}:t1"]["trace_id"] == first
    assert logged[f"{sid}:t2"]["trace_id"] == second
    assert logged[f"{sid}:t1"]["service"] == "gateway"


def test_json_formatter_one_line_with_trace_id_and_exception(sdk: None) -> None:
    formatter = JsonFormatter("gateway")
    with trace.get_tracer("t").start_as_current_span("s") as span:
        try:
            raise RuntimeError("two\nlines")
        except RuntimeError:
            record = logging.LogRecord("a.b", logging.ERROR, "f", 1, "x=%d", (5,), sys.exc_info())
        line = formatter.format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["msg"] == "x=5" and entry["level"] == "ERROR" and entry["service"] == "gateway"
    assert entry["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert entry["ts"].startswith("20") and "RuntimeError: two" in entry["exc"]
    outside = json.loads(formatter.format(logging.LogRecord("a", 20, "f", 1, "m", (), None)))
    assert "trace_id" not in outside and "exc" not in outside


def test_fallbacks_and_handoffs_are_counted_from_written_turns() -> None:
    metrics = Metrics()
    turns = [
        {"session_id": "s", "client_msg_id": "1", "handoff": False},
        {"session_id": "s", "client_msg_id": "2", "handoff": True},
        {
            "session_id": "s",
            "client_msg_id": "c-1",
            "kind": "handoff",
            "handoff": True,
            "replies": [{"type": "handoff", "seq": 5, "state": "accepted"}],
        },
        {
            "session_id": "s",
            "client_msg_id": "c-2",
            "kind": "agent",
            "handoff": True,
            "replies": [{"type": "agent", "seq": 6, "text": "hi"}],
        },
        {"session_id": "s", "client_msg_id": "3", "kind": "to_agent", "handoff": True},
    ]
    rows = [
        {"fallback": True},
        {"fallback": False},
        {"fallback": False},
        {"fallback": False},
        {"fallback": False},
    ]
    count_outcomes(metrics, turns, rows)
    body = generate_latest(metrics.registry).decode()
    assert "gateway_fallbacks_total 1.0" in body
    assert 'gateway_handoffs_total{state="requested"} 1.0' in body
    assert 'gateway_handoffs_total{state="accepted"} 1.0' in body
    assert 'state="ended"' not in body
