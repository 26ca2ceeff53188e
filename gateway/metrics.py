"""Prometheus metrics and ``GET /metrics`` (text exposition format).

Each app gets its own ``CollectorRegistry`` (tests run several apps in one process).
Series (all prefixed ``gateway_``):
- ``sockets_open`` gauge: chat sockets currently open on this instance;
- ``turns_total{outcome}`` counter: turns finished by this instance's workers
  (``answered``, ``failed``); turns/s is ``rate(gateway_turns_total[1m])``;
- ``turn_latency_seconds`` histogram: admission (ack) to replies sent, queueing and
  retries included;
- ``rasa_latency_seconds`` histogram: one REST call to Rasa, failures included;
- ``errors_total{code}`` counter: ``error`` frames produced, by contract code;
- ``fallbacks_total`` counter: answered turns whose NLU or policy fell back
  (``nlu_fallback`` or a fallback action), counted by the transcript writer;
- ``handoffs_total{state}`` counter: ``handoff`` frames by state (``requested``,
  ``accepted``, ``ended``), counted by the transcript writer (once per frame, whichever
  instance writes it);
- the process collector (``process_*``: CPU, memory, open files).

The endpoint is unauthenticated like ``/health``: expose it on the internal network
only (the reverse proxy should not route ``/metrics``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

router = APIRouter(tags=["metrics"])
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.sockets_open = Gauge(
            "gateway_sockets_open", "Open chat sockets", registry=self.registry
        )
        self.turns = Counter("gateway_turns", "Turns finished", ["outcome"], registry=self.registry)
        self.turn_latency = Histogram(
            "gateway_turn_latency_seconds",
            "Turn admission to replies",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rasa_latency = Histogram(
            "gateway_rasa_latency_seconds",
            "One call to Rasa",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "gateway_errors", "Error frames produced", ["code"], registry=self.registry
        )
        self.fallbacks = Counter(
            "gateway_fallbacks", "Answered turns that fell back", registry=self.registry
        )
        self.handoffs = Counter(
            "gateway_handoffs", "Handoff frames by state", ["state"], registry=self.registry
        )
        ProcessCollector(registry=self.registry)

    def error(self, code: str) -> None:
        self.errors.labels(code=code).inc()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
