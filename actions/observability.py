"""JSON log lines and OpenTelemetry traces for the action server (contract: "JSON log lines").

Every log record becomes one JSON object on stdout: ``ts`` (UTC, ISO 8601), ``level``,
``service``, ``logger``, ``msg`` and, while a span is current (an action run for a chat
turn, continuing the ``traceparent`` the gateway put into the message metadata), its W3C
``trace_id`` and ``span_id``. ``scripts/stack.py`` writes stdout to
``var/log/actions.log``. sanic's and rasa_sdk's loggers propagate to the root handler.

Traces: a ``TracerProvider`` whose spans go where the standard ``OTEL_*`` variables say.
``OTEL_TRACES_EXPORTER`` (default ``otlp``) lists exporters: ``otlp`` exports over
OTLP/HTTP only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``
is set (nothing is sent and nothing waits otherwise; JSON bodies unless the protobuf
exporter is installed, see ``_otlp_exporter``), ``log`` writes each finished span
as a log line, ``none`` nothing. ``OTEL_SERVICE_NAME``, ``OTEL_TRACES_SAMPLER`` and
``OTEL_RESOURCE_ATTRIBUTES`` work as the SDK documents.

gateway, core_banking and bot have their own copy of this module: no Python
import crosses the deployables.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import datetime, timezone
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
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
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(
                timespec="milliseconds"
            ),
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


def configure_logging(service: str = "actions") -> None:
    """Root logger → one JSON line per record on stdout; library loggers propagate."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())
    for name in ("sanic.root", "sanic.error", "sanic.access", "rasa_sdk"):
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


def configure_tracing(service: str = "actions") -> TracerProvider:
    name = os.environ.get("OTEL_SERVICE_NAME") or service
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    exporters = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").replace(" ", "").split(",")
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    if "otlp" in exporters and endpoint:
        exporter = _otlp_exporter()
        if exporter is not None:
            provider.add_span_processor(BatchSpanProcessor(exporter))
    if "log" in exporters:
        provider.add_span_processor(LogSpanProcessor())
    trace.set_tracer_provider(provider)
    return provider


def _otlp_exporter() -> SpanExporter | None:
    """OTLP/HTTP with protobuf bodies when its package is installed (an image of the
    action server alone), else OTLP/HTTP with JSON bodies (``application/json``, which
    every OTLP/HTTP receiver accepts): its package needs no protobuf, so it installs
    beside the protobuf 4 that Rasa 3.6 pins in .venv-rasa (the protobuf exporter
    1.45 needs protobuf 5+). Both read the same ``OTEL_EXPORTER_OTLP_*`` variables."""
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        pass
    else:
        return OTLPSpanExporter()
    try:
        from opentelemetry.exporter.otlp.json.http.trace_exporter import (
            OTLPSpanExporter as OTLPJsonSpanExporter,
        )
    except ImportError:
        logging.getLogger(__name__).warning(
            "OTLP endpoint set but no OTLP exporter is installed "
            "(actions/requirements.txt): the action server's spans are not exported"
        )
        return None
    return OTLPJsonSpanExporter()


def context_from(traceparent_value: object) -> Context:
    """The remote parent a ``traceparent`` value names (an empty context if none)."""
    if not isinstance(traceparent_value, str):
        return Context()
    return _propagator.extract({"traceparent": traceparent_value})


def traceparent() -> str | None:
    """The current span as a W3C ``traceparent`` value (None outside a sampled span)."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent")
