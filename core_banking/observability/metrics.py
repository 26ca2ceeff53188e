"""Prometheus metrics, ``GET /metrics`` and the middleware that traces and counts requests.

Series (each app has its own ``CollectorRegistry``: tests run several apps in a process):
- ``core_banking_http_requests_total{method,route,status}``: requests answered, by route
  template (``/v1/transfers/{transfer_id}/confirm``, never the ids; ``unmatched`` for
  paths no route serves);
- ``core_banking_http_request_duration_seconds{method,route}``: histogram;
- ``core_banking_transfers_total{status}``: transfers reaching a status (``completed``,
  ``requires_confirmation``, ``cancelled``): created in it, or moved to it by a
  confirmation or cancellation, so one held and then confirmed transfer counts once as
  ``requires_confirmation`` and once as ``completed``;
- the process collector (``process_*``).

Like ``/health``, ``/metrics`` needs no credentials: only the internal network (and in
Kubernetes only Prometheus, see the network policies) reaches core_banking.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from sqlalchemy import event, inspect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core_banking.models.transfer import Transfer

router = APIRouter(tags=["metrics"])
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# The app whose request is running: the ORM hooks below count into its registry.
current_metrics: ContextVar[Metrics | None] = ContextVar("core_banking_metrics", default=None)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "core_banking_http_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "core_banking_http_request_duration_seconds",
            "HTTP request duration",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.transfers = Counter(
            "core_banking_transfers",
            "Transfers reaching a status",
            ["status"],
            registry=self.registry,
        )
        ProcessCollector(registry=self.registry)
        # Each series' child, once: prometheus_client's labels() validates the values
        # and takes a lock on every call (~1.5 % of a transfer's CPU, three calls).
        self._answered: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._transfer_counts: dict[str, Any] = {}

    def answered(self, method: str, route: str, status: int, seconds: float) -> None:
        """A request answered: its count and its duration."""
        key = (method, route, status)
        series = self._answered.get(key)
        if series is None:
            series = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
            self._answered[key] = series
        series[0].inc()
        series[1].observe(seconds)

    def transfer_reached(self, status: str) -> None:
        counter = self._transfer_counts.get(status)
        if counter is None:
            counter = self._transfer_counts[status] = self.transfers.labels(status=status)
        counter.inc()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


class TelemetryMiddleware:
    """The request metrics (plain ASGI). The request's server span, continuing the
    caller's ``traceparent``, is FastAPI's own (its native OpenTelemetry tracing: a server
    span, then spans for dependencies and the endpoint); SQL spans: ``trace_sql``."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        status = 500  # unless the app starts a response

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        started = time.perf_counter()
        token = current_metrics.set(self.metrics)
        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.answered(method, route, status, time.perf_counter() - started)
            current_metrics.reset(token)


def count_transfer(status: str) -> None:
    """A transfer created with `status` by hand-written SQL (transfers.booking), which
    the ORM event below does not see."""
    metrics = current_metrics.get()
    if metrics is not None:
        metrics.transfer_reached(status)


@event.listens_for(Transfer, "after_insert")
def _transfer_created(_mapper: Any, _connection: Any, transfer: Transfer) -> None:
    count_transfer(str(transfer.status))


@event.listens_for(Transfer, "after_update")
def _transfer_changed(_mapper: Any, _connection: Any, transfer: Transfer) -> None:
    metrics = current_metrics.get()
    if metrics is not None and inspect(transfer).attrs.status.history.has_changes():
        metrics.transfer_reached(str(transfer.status))
