"""Application factory. `core_banking.app:app` is the ASGI entry point."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from core_banking import problems
from core_banking.accounts.endpoints import router as accounts_router
from core_banking.cards.endpoints import router as cards_router
from core_banking.db import create_engine, create_sessionmaker
from core_banking.gift_cards.endpoints import internal_router as guest_gift_cards_router
from core_banking.gift_cards.endpoints import router as gift_cards_router
from core_banking.health.endpoints import router as health_router
from core_banking.holds.service import sweep_forever
from core_banking.identity.endpoints import router as identity_router
from core_banking.models import encrypted
from core_banking.observability import metrics
from core_banking.observability.tracing import trace_sql
from core_banking.payees.endpoints import router as payees_router
from core_banking.settings import Settings, get_settings
from core_banking.step_up.endpoints import router as step_up_router
from core_banking.transfers.endpoints import router as transfers_router


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = create_engine(settings)
    encrypted.use_settings(settings)  # the keys of personal data at rest

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sweeper = None
        if settings.hold_sweep_interval_seconds > 0:
            sweeper = asyncio.create_task(
                sweep_forever(app.state.sessionmaker, settings.hold_sweep_interval_seconds)
            )
        yield
        if sweeper is not None:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
        await engine.dispose()

    app = FastAPI(
        title="core_banking",
        version="0.1.0",
        lifespan=lifespan,
        # API docs are handy in development and a free map for attackers in production.
        docs_url=None if settings.is_production else "/docs",
        redoc_url=None,
        openapi_url=None if settings.is_production else "/openapi.json",
    )
    # The engine is created eagerly (it connects lazily), so test clients that skip the
    # lifespan, like httpx.ASGITransport, still work.
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    app.state.metrics = metrics.Metrics()
    trace_sql(engine)
    app.add_middleware(metrics.TelemetryMiddleware, metrics=app.state.metrics)

    problems.install(app)
    app.include_router(health_router)
    app.include_router(identity_router)
    app.include_router(accounts_router)
    app.include_router(transfers_router)
    app.include_router(step_up_router)
    app.include_router(payees_router)
    app.include_router(cards_router)
    app.include_router(gift_cards_router)
    app.include_router(guest_gift_cards_router)
    app.include_router(metrics.router)
    return app


def __getattr__(name: str) -> FastAPI:
    # Built on first access so importing this module (tests, tooling) reads no env vars.
    if name == "app":
        application = create_app()
        globals()["app"] = application
        return application
    raise AttributeError(name)
