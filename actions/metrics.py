"""The action server's Prometheus metrics, ``GET /metrics`` and its request telemetry.

Series (own ``CollectorRegistry`` per app, as tests build several):
- ``actions_http_requests_total{method,route,status}`` and
  ``actions_http_request_duration_seconds{method,route}``: every request;
- ``actions_action_duration_seconds{action,status}``: one ``/webhook`` call, by the
  action Rasa asked for (histogram; ``_count`` is the runs);
- the process collector (``process_*``).

``/metrics`` needs no ``X-Action-Token`` (``actions/server.py``: open paths): it is
internal, and in Kubernetes only Prometheus may reach it (network policies).

Each ``/webhook`` call runs inside a span that continues the turn's trace: the gateway
put its ``traceparent`` into the message metadata, which Rasa sends back in the tracker.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from sanic import Sanic, response
from sanic.request import Request

from actions.observability import context_from

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "actions_http_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "actions_http_request_duration_seconds",
            "HTTP request duration",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.actions = Histogram(
            "actions_action_duration_seconds",
            "One action run",
            ["action", "status"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        ProcessCollector(registry=self.registry)


def _webhook_call(request: Request) -> tuple[str, Any]:
    """The action asked for and the turn's ``traceparent`` (None when absent)."""
    try:
        body = json.loads(request.body or b"{}")
        tracker = body.get("tracker") or {}
        metadata = (tracker.get("latest_message") or {}).get("metadata") or {}
        return str(body.get("next_action") or "unknown"), metadata.get("traceparent")
    except (ValueError, AttributeError):
        return "unknown", None


def install(app: Sanic, metrics: Metrics) -> None:
    """``GET /metrics``, and middleware timing every request and tracing ``/webhook``."""

    @app.get("/metrics")
    async def metrics_endpoint(_request: Request) -> Any:
        return response.raw(generate_latest(metrics.registry), content_type=CONTENT_TYPE_LATEST)

    @app.middleware("request")
    async def begin(request: Request) -> None:
        request.ctx.started = time.perf_counter()
        if request.path == "/webhook" and request.method == "POST":
            action, parent = _webhook_call(request)
            span = tracer.start_span(
                f"action {action}",
                context=context_from(parent),
                kind=trace.SpanKind.SERVER,
                attributes={"rasa.action": action},
            )
            request.ctx.action = action
            request.ctx.span = span
            request.ctx.token = otel_context.attach(trace.set_span_in_context(span))

    @app.middleware("response")
    async def end(request: Request, answer: Any) -> None:
        started = getattr(request.ctx, "started", None)
        if started is None:
            return
        elapsed = time.perf_counter() - started
        status = str(getattr(answer, "status", 500))
        route = request.route.path if request.route else "unmatched"
        route = "/" + route.lstrip("/")
        metrics.requests.labels(request.method, route, status).inc()
        metrics.latency.labels(request.method, route).observe(elapsed)
        span = getattr(request.ctx, "span", None)
        if span is None:
            return
        action = request.ctx.action
        metrics.actions.labels(action, status).observe(elapsed)
        log.info("action %s answered %s in %.0f ms", action, status, elapsed * 1000)
        span.set_attribute("http.response.status_code", int(status))
        span.end()
        otel_context.detach(request.ctx.token)
        request.ctx.span = None
