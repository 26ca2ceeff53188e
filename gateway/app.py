"""Application factory. ``create_app(settings)`` builds a fresh app (tests use this);
``app`` is the process-wide instance that ``python -m gateway`` serves.

Everything with a connection (Redis, HTTP clients) or a secret (the signing key) is
created in the lifespan, so importing this module needs neither Redis nor key files.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from redis.asyncio import BlockingConnectionPool, Redis

from gateway import health, internal, metrics
from gateway.auth import endpoints as auth_endpoints
from gateway.auth.service import AuthService
from gateway.auth.throttle import LoginThrottle
from gateway.auth.tokens import TokenService
from gateway.chat import endpoints as chat_endpoints
from gateway.chat.credentials import TurnSealer
from gateway.chat.hub import SessionHub
from gateway.chat.limits import Limits
from gateway.chat.rasa_client import RasaClient
from gateway.chat.service import ChatService
from gateway.chat.store import ChatStore, erased_set_key
from gateway.chat.turns import TurnRunner
from gateway.console import endpoints as console_endpoints
from gateway.console.expiry import HandoffExpiry
from gateway.console.live import ConsoleFeed
from gateway.console.review import endpoints as review_endpoints
from gateway.console.review.erasure import ErasureService
from gateway.console.review.exports import ExportService
from gateway.console.review.service import ReviewService
from gateway.console.service import ConsoleService
from gateway.identity_client import IdentityClient
from gateway.problems import install_problem_handlers
from gateway.settings import Settings, get_settings
from gateway.transcripts import encrypted, retention
from gateway.transcripts.broker import BrokerConsumer, EventSink
from gateway.transcripts.names import CustomerNames
from gateway.transcripts.schema import TranscriptSchema
from gateway.transcripts.writer import (
    STREAM_MAX,
    TranscriptQueue,
    TranscriptWriter,
    make_engine,
)

STATIC_DIR = Path(__file__).parent / "static"
# The widget loads only same-origin script/style and talks only to its own origin.
_CSP = (
    "default-src 'self'; connect-src 'self'; img-src 'self' data: https:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    encrypted.use_settings(settings)  # the keys of transcripts at rest

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tokens = TokenService.from_file(
            settings.jwt_private_key_file,
            key_id=settings.jwt_key_id,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            ttl_seconds=settings.access_token_ttl_seconds,
        )
        # Blocking pool: a burst of commands beyond the pool size waits (up to the
        # timeout) for a connection instead of failing with MaxConnectionsError, which
        # refused hellos as "unavailable" at ~400 concurrent handshakes (bench/gateway.py).
        redis = Redis.from_pool(
            BlockingConnectionPool.from_url(
                settings.redis_url,
                max_connections=settings.redis_max_connections,
                timeout=settings.redis_pool_timeout_seconds,
            )
        )
        identity_http = httpx.AsyncClient(
            base_url=settings.core_banking_url,
            timeout=settings.core_banking_timeout_seconds,
            limits=httpx.Limits(keepalive_expiry=settings.core_banking_keepalive_seconds),
        )
        rasa = RasaClient(
            settings.rasa_url, settings.rasa_timeout_seconds, auth_token=settings.rasa_auth_token
        )
        await rasa.open()
        hub = SessionHub(redis, key_prefix=settings.redis_key_prefix)
        app.state.settings = settings
        app.state.redis = redis
        app.state.tokens = tokens
        background: set[asyncio.Task[None]] = set()
        app.state.background_tasks = background
        prefix = settings.redis_key_prefix
        app.state.auth_service = AuthService(
            tokens=tokens,
            identity=IdentityClient(identity_http, settings.service_token),
            redis=redis,
            key_prefix=settings.redis_key_prefix,
            refresh_ttl_seconds=settings.refresh_token_ttl_seconds,
            throttle=LoginThrottle(
                redis,
                key_prefix=prefix,
                window_seconds=settings.login_window_seconds,
                max_per_account=settings.login_max_failures_per_account,
                max_per_ip=settings.login_max_failures_per_ip,
            ),
        )
        transcripts = TranscriptQueue(redis, key_prefix=prefix)
        # Finished turns are XADDed to the transcript stream by the store's completion
        # script, atomically with storing their replies.
        store = ChatStore(
            redis,
            key_prefix=prefix,
            retention=settings.session_retention_frames,
            ttl_seconds=settings.session_ttl_seconds,
            queue_max=settings.turn_queue_max,
            transcript_stream=transcripts.key,
            transcript_max=STREAM_MAX,
        )
        app.state.chat_store = store
        engine = make_engine(settings.transcript_database_url)
        schema = TranscriptSchema(engine)
        feed = ConsoleFeed(redis, key_prefix=prefix)
        app.state.console_feed = feed

        async def on_written(session_ids: list[str], handoff: bool) -> None:
            await feed.sessions_changed(session_ids, handoff=handoff)

        writer = TranscriptWriter(
            on_written=on_written,
            redis=redis,
            queue=transcripts,
            schema=schema,
            consumer=hub.instance_id,
            metrics=app.state.metrics,
        )
        events = EventSink(
            schema,
            redis=redis,
            erased_key=erased_set_key(transcripts.key),
            metrics=app.state.metrics,
        )
        sealer = TurnSealer(
            settings.chat_credential_key, ttl_seconds=settings.delegated_token_ttl_seconds
        )
        app.state.turn_sealer = sealer
        runner = TurnRunner(
            store=store,
            hub=hub,
            rasa=rasa,
            tokens=tokens,
            sealer=sealer,
            settings=settings,
            metrics=app.state.metrics,
            background=background,
        )
        limits = Limits(
            redis,
            key_prefix=prefix,
            session_rate=(settings.rate_session_messages, settings.rate_session_window_seconds),
            user_rate=(settings.rate_user_messages, settings.rate_user_window_seconds),
            max_sockets_per_user=settings.max_sockets_per_user,
        )
        service = ChatService(
            store=store,
            hub=hub,
            runner=runner,
            limits=limits,
            tokens=tokens,
            sealer=sealer,
            metrics=app.state.metrics,
            pii_ref_ttl_seconds=settings.pii_ref_ttl_seconds,
        )
        app.state.chat_service = service
        console = ConsoleService(store=store, hub=hub, feed=feed, names=CustomerNames(schema))
        app.state.console_service = console
        expiry = HandoffExpiry(
            store=store,
            console=console,
            ttl_seconds=settings.handoff_queue_ttl_seconds,
            every=settings.handoff_sweep_seconds,
        )
        low = settings.console_low_confidence
        app.state.review_service = ReviewService(schema=schema, store=store, low_confidence=low)
        app.state.export_service = ExportService(schema=schema, low_confidence=low)
        app.state.erasure_service = ErasureService(schema=schema, store=store, rasa=rasa, hub=hub)
        listener = asyncio.create_task(hub.run())
        retention_days = settings.transcript_retention_days
        loops = [
            asyncio.create_task(feed.run()),
            asyncio.create_task(expiry.run()),
            asyncio.create_task(runner.sweep_forever()),
            asyncio.create_task(service.maintain_forever()),
            asyncio.create_task(writer.run()),
            asyncio.create_task(retention.purge_forever(schema, retention_days)),
        ]
        if settings.rasa_events_consumer:
            loops.append(asyncio.create_task(BrokerConsumer(settings, events).run()))
        # Start serving only once other instances' frames can reach us (bounded wait:
        # without Redis we still start, /health reports it, the listener keeps retrying).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(hub.listening.wait(), 5)
            await asyncio.wait_for(feed.listening.wait(), 5)
        try:
            yield
        finally:
            tasks = [listener, *loops, *background]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await identity_http.aclose()
            await rasa.close()
            await engine.dispose()
            await redis.aclose()

    app = FastAPI(title="Banking assistant gateway", lifespan=lifespan)
    app.state.metrics = metrics.Metrics()
    install_problem_handlers(app)
    # The embedded widget (static/widget-embed.js) signs in from the embedding page's
    # origin: only ALLOWED_ORIGINS may read the answers (the same list /ws checks).
    app.add_middleware(
        CORSMiddleware,
        allow_origins=sorted(settings.allowed_origin_set),
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type", "Authorization"],
    )
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(internal.router)
    app.include_router(auth_endpoints.router)
    app.include_router(chat_endpoints.router)
    app.include_router(console_endpoints.router)
    app.include_router(review_endpoints.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    async def widget() -> FileResponse:
        return FileResponse(
            STATIC_DIR / "index.html",
            headers={
                "Content-Security-Policy": _CSP,
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
                "Cache-Control": "no-cache",
            },
        )

    return app


app = create_app()
