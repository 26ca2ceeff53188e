"""JSON log lines and OpenTelemetry traces for the gateway (contract: "JSON log lines").

Every log record becomes one JSON object on stdout: ``ts`` (UTC, ISO 8601), ``level``,
``service``, ``logger``, ``msg`` and, while a span is current (a chat turn), its W3C
``trace_id`` and ``span_id``. ``scripts/stack.py`` writes stdout to
``var/log/gateway.log``. uvicorn's loggers propagate to the root handler.

Traces: a ``TracerProvider`` whose spans go where the standard ``OTEL_*`` variables say.
``OTEL_TRACES_EXPORTER`` (default ``otlp``) lists exporters: ``otlp`` exports over
OTLP/HTTP only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``
is set (nothing is sent and nothing waits otherwise), ``log`` writes each finished span
as a log line, ``none`` nothing. ``OTEL_SERVICE_NAME``, ``OTEL_TRACES_SAMPLER`` and
``OTEL_RESOURCE_ATTRIBUTES`` work as the SDK documents.

The actions, core_banking and bot packages have their own copy of this module: no Python
import crosses the deployables.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

# Attributes a caller may pass with ``extra=`` that become fields of the line.
EXTRA_FIELDS = ("trace_id", "span_id", "parent_span_id", "span", "duration_ms")
_propagator = TraceContextTextMapPropagator()


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            line["trace_id"] = format(context.trace_id, "032x")
            line["span_id"] = format(context.span_id, "016x")
        for name in EXTRA_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(service: str = "gateway") -> None:
    """Root logger → one JSON line per record on stdout; library loggers propagate."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    logging.captureWarnings(True)


class LogSpanProcessor(SpanProcessor):
    """``OTEL_TRACES_EXPORTER=log``: every finished span as one log line."""

    _log = logging.getLogger("otel.spans")

    def on_end(self, span: ReadableSpan) -> None:
        context = span.get_span_context()
        if context is None:
            return
        parent = span.parent
        duration = ((span.end_time or 0) - (span.start_time or 0)) / 1e6
        self._log.info(
            "span %s",
            span.name,
            extra={
                "trace_id": format(context.trace_id, "032x"),
                "span_id": format(context.span_id, "016x"),
                "parent_span_id": format(parent.span_id, "016x") if parent else None,
                "span": span.name,
                "duration_ms": round(duration, 3),
            },
        )


def configure_tracing(service: str = "gateway") -> TracerProvider:
    name = os.environ.get("OTEL_SERVICE_NAME") or service
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    exporters = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").replace(" ", "").split(",")
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    if "otlp" in exporters and endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    if "log" in exporters:
        provider.add_span_processor(LogSpanProcessor())
    trace.set_tracer_provider(provider)
    return provider


def traceparent() -> str | None:
    """The current span as a W3C ``traceparent`` value (None outside a sampled span)."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent")
