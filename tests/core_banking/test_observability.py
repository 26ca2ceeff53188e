"""core_banking's traces, audit trace ids, JSON log lines and ``GET /metrics``."""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from core_banking.observability.tracing import JsonFormatter
from tests.core_banking.helpers import Customer, SessionFactory, accounts, login

POSTGRES = pytest.mark.parametrize("settings", ["postgresql"], indirect=True)

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    # The global provider can be set once per process; reuse it if a test set it.
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()


def samples(body: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


@POSTGRES
async def test_a_transfer_continues_the_callers_trace_into_sql_and_the_audit_row(
    client: httpx.AsyncClient,
    seeded: Any,
    session_factory: SessionFactory,
    sign: Callable[..., str],
    spans: InMemorySpanExporter,
) -> None:
    me: Customer = await login(session_factory, sign, "demo001")
    mine = await accounts(client, me)
    spans.clear()
    body = {
        "from_account_id": mine["savings"]["id"],
        "amount_minor": 1_000,
        "to_account_number": mine["checking"]["number"],
        "currency": "EUR",
        "reference": "traced",
    }
    response = await client.post(
        "/v1/transfers", json=body, headers={**me.with_key("k-traced"), "traceparent": TRACEPARENT}
    )
    assert response.status_code == 201, response.text

    finished = spans.get_finished_spans()
    server = [s for s in finished if s.name == "POST /v1/transfers"]
    assert len(server) == 1 and server[0].context is not None
    assert server[0].parent is not None and server[0].parent.span_id == 0x00F067AA0BA902B7
    assert format(server[0].context.trace_id, "032x") == TRACE_ID
    # SQL spans hang under FastAPI's endpoint span, itself under the server span.
    ours = {s.context.span_id: s for s in finished if s.context}

    def root_of(span: Any) -> Any:
        while span.parent is not None and span.parent.span_id in ours:
            span = ours[span.parent.span_id]
        return span

    sql = [s for s in finished if s.name.startswith("SQL ")]
    assert sql and all(root_of(s) is server[0] for s in sql)
    # A transfer is three statements, each a WITH (transfers/booking.py): all traced.
    assert [s.name for s in sql] == ["SQL WITH"] * 3

    async with session_factory() as session:
        details = (
            (
                await session.execute(
                    text("SELECT detail FROM audit_log WHERE action LIKE 'transfer%'")
                )
            )
            .scalars()
            .all()
        )
    assert details and all(d.endswith(f"trace_id={TRACE_ID}") for d in details)


@POSTGRES
async def test_metrics_count_requests_by_route_and_transfers_by_status(
    client: httpx.AsyncClient,
    seeded: Any,
    session_factory: SessionFactory,
    sign: Callable[..., str],
) -> None:
    me = await login(session_factory, sign, "demo002")
    mine = await accounts(client, me)
    body = {
        "from_account_id": mine["savings"]["id"],
        "amount_minor": 500,
        "currency": "EUR",
        "to_account_number": mine["checking"]["number"],
        "reference": "m",
    }
    assert (
        await client.post("/v1/transfers", json=body, headers=me.with_key("k1"))
    ).status_code == 201
    await client.get(f"/v1/accounts/{mine['savings']['id']}/transactions", headers=me.with_key())
    await client.get("/no/such/path")

    response = await client.get("/metrics")  # no credentials needed
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    got = samples(response.text)
    route = "/v1/accounts/{account_id}/transactions"
    assert got[("core_banking_transfers_total", frozenset({("status", "completed")}))] == 1
    assert (
        got[
            (
                "core_banking_http_requests_total",
                frozenset({("method", "POST"), ("route", "/v1/transfers"), ("status", "201")}),
            )
        ]
        == 1
    )
    assert (
        got[
            (
                "core_banking_http_requests_total",
                frozenset({("method", "GET"), ("route", route), ("status", "200")}),
            )
        ]
        == 1
    )
    assert (
        got[
            (
                "core_banking_http_requests_total",
                frozenset({("method", "GET"), ("route", "unmatched"), ("status", "404")}),
            )
        ]
        == 1
    )
    assert (
        got[
            (
                "core_banking_http_request_duration_seconds_count",
                frozenset({("method", "GET"), ("route", route)}),
            )
        ]
        == 1
    )
    assert any(name == "process_cpu_seconds_total" for name, _ in got)


def test_json_formatter_writes_one_line_with_the_current_trace_id(spans: Any) -> None:
    formatter = JsonFormatter("core_banking")
    record = logging.LogRecord("x.y", logging.WARNING, __file__, 1, "paid %s", ("10.00",), None)
    plain = json.loads(formatter.format(record))
    assert plain["service"] == "core_banking" and plain["level"] == "WARNING"
    assert plain["msg"] == "paid 10.00" and plain["logger"] == "x.y" and plain["ts"]
    assert "trace_id" not in plain
    with trace.get_tracer("t").start_as_current_span("work") as span:
        try:
            raise ValueError("boom\nsecond line")
        except ValueError:
            record = logging.LogRecord(
                "x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
            )
        line = formatter.format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert "ValueError: boom" in parsed["exc"]


def test_spans_go_to_the_otlp_endpoint_the_environment_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    from core_banking.observability.tracing import configure_tracing

    received: list[tuple[str, bytes]] = []

    class Collector(BaseHTTPRequestHandler):  # stands in for an OpenTelemetry collector
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, body))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    try:
        provider = configure_tracing("core_banking")
        with provider.get_tracer("test").start_as_current_span("exported"):
            pass
        assert provider.force_flush(10_000)
    finally:
        server.shutdown()
    [(path, body)] = received
    assert path == "/v1/traces"
    request = ExportTraceServiceRequest.FromString(body)
    [resource_spans] = request.resource_spans
    service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert service["service.name"] == "core_banking"
    assert [s.name for s in resource_spans.scope_spans[0].spans] == ["exported"]
