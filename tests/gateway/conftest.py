"""Fixtures for gateway tests: a throwaway RSA key, a unique Redis key prefix, stub Rasa
and identity servers, and real gateway servers (uvicorn in background threads)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse

from gateway.app import create_app
from gateway.auth.tokens import TokenService
from gateway.settings import Settings

REDIS_URL = "redis://127.0.0.1:6379/0"
SERVICE_TOKEN = "test-service-token"
RASA_AUTH_TOKEN = "test-rasa-token"
ISSUER = "bank-gateway"
AUDIENCE = "bank-api"
KEY_ID = "test-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerThread:
    """Runs an ASGI app with uvicorn on a free port in a daemon thread."""

    def __init__(self, app: Any, **options: Any) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on", **options
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def make_private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture(scope="session")
def private_key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keys") / "jwt-private.pem"
    path.write_text(make_private_key_pem())
    return path


@pytest.fixture(scope="session")
def token_service(private_key_file: Path) -> TokenService:
    """Signs tokens exactly like the gateway under test (same key and kid)."""
    return TokenService.from_file(
        str(private_key_file), key_id=KEY_ID, issuer=ISSUER, audience=AUDIENCE, ttl_seconds=900
    )


@pytest.fixture(scope="session")
def redis_prefix() -> Iterator[str]:
    prefix = f"gwtest-{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    yield client
    client.close()


# --- stub Rasa -----------------------------------------------------------------------


@dataclass
class StubRasa:
    """Answers by message: ``/show_buttons``, ``two …`` (two responses), ``slow <s> …``
    (sleeps s seconds), ``handoff …`` (custom handoff), ``cvv?`` (asks for a CVV); anything
    else is echoed. Messages containing ``flaky`` get 503 while ``flaky_down`` is set.
    Each call is recorded with its start/end (monotonic) for ordering checks.

    Its HTTP API (``/conversations/...``) wants ``?token=RASA_AUTH_TOKEN`` like Rasa
    started with ``--auth-token``; ``DELETE /webhooks/rest/conversations/{id}`` with
    ``X-Rasa-Token`` erases a tracker, as ``bot/erasure.py`` does (the erased senders are
    listed in ``erased``). In the tracker, a message starting
    with ``mumble`` is ``nlu_fallback`` (confidence 0.3) answered by the fallback action."""

    url: str = ""
    calls: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    flaky_down: threading.Event = field(default_factory=threading.Event)
    erased: list[str] = field(default_factory=list)

    def calls_for(self, message: str) -> list[dict[str, Any]]:
        with self.lock:
            return [c for c in self.calls if c["message"] == message]

    def calls_from(self, sender: str) -> list[dict[str, Any]]:
        with self.lock:
            return [c for c in self.calls if c["sender"] == sender]

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/webhooks/rest/webhook")
        async def webhook(request: Request) -> Any:
            body = await request.json()
            body["started"] = time.monotonic()
            with self.lock:
                self.calls.append(body)
            sender, message = body["sender"], body["message"]
            if "flaky" in message and self.flaky_down.is_set():
                return JSONResponse({"error": "down"}, status_code=503)
            if message.startswith("slow "):
                await asyncio.sleep(float(message.split()[1]))
            body["ended"] = time.monotonic()
            if message.startswith("handoff"):
                return [
                    {
                        "recipient_id": sender,
                        "text": "Connecting you to an agent.",
                        "custom": {"handoff": "requested"},
                    }
                ]
            if message == "cvv?":
                return [{"recipient_id": sender, "text": "Please enter the card's CVV."}]
            if message.startswith("mute"):
                return []
            if message == "/show_buttons":
                return [
                    {
                        "recipient_id": sender,
                        "text": "Pick one",
                        "buttons": [
                            {"title": "Yes", "payload": "/affirm"},
                            {"title": "No", "payload": "/deny"},
                        ],
                    }
                ]
            if message.startswith("two "):
                return [
                    {"recipient_id": sender, "text": f"first: {message}"},
                    {"recipient_id": sender, "text": f"second: {message}"},
                ]
            return [{"recipient_id": sender, "text": f"you said: {message}"}]

        @app.get("/conversations/{sender}/tracker", response_model=None)
        async def tracker(sender: str, token: str = "") -> dict[str, Any] | JSONResponse:
            """Rasa-shaped events for the calls seen: intent ``intent_<first word>``."""
            if token != RASA_AUTH_TOKEN:
                return JSONResponse({"message": "no token"}, status_code=401)
            events: list[dict[str, Any]] = []
            for call in self.calls_from(sender):
                text = call["message"]
                fallback = text.startswith("mumble")
                events.append(
                    {
                        "event": "user",
                        "text": text,
                        "metadata": call["metadata"],
                        "parse_data": {
                            "intent": {
                                "name": "nlu_fallback" if fallback else f"intent_{text.split()[0]}",
                                "confidence": 0.3 if fallback else 0.875,
                            },
                            "entities": [
                                {
                                    "entity": "amount",
                                    "value": "5",
                                    "start": 0,
                                    "end": 1,
                                    "extractor": "x",
                                }
                            ],
                        },
                    }
                )
                events += [
                    {
                        "event": "action",
                        "name": "action_default_fallback" if fallback else "action_echo",
                    },
                    {"event": "action", "name": "action_listen"},
                ]
            return {"sender_id": sender, "events": events}

        @app.delete("/webhooks/rest/conversations/{sender}", response_model=None)
        async def erase(
            sender: str, x_rasa_token: str | None = Header(default=None)
        ) -> dict[str, Any] | JSONResponse:
            """bot/erasure.py's route on the stack's REST channel."""
            if x_rasa_token != RASA_AUTH_TOKEN:
                return JSONResponse({"reason": "NotAuthenticated"}, status_code=401)
            with self.lock:
                self.calls = [c for c in self.calls if c["sender"] != sender]
                self.erased.append(sender)
            return {"status": "erased", "conversation_id": sender}

        return app


@pytest.fixture(scope="session")
def stub_rasa() -> Iterator[StubRasa]:
    stub = StubRasa()
    with ServerThread(stub.app()) as server:
        stub.url = server.url
        yield stub


# --- stub identity (core_banking /internal/auth/verify) ------------------------------

USERS = {
    "demo001": (
        "demo-password",
        {
            "subject": "cust-001",
            "username": "demo001",
            "display_name": "Demo One",
            "roles": ["customer"],
        },
    ),
    "agent1": (
        "staff-password",
        {
            "subject": "staff-agent-1",
            "username": "agent1",
            "display_name": "Alex Agent",
            "roles": ["agent"],
        },
    ),
    "supervisor1": (
        "staff-password",
        {
            "subject": "staff-sup-1",
            "username": "supervisor1",
            "display_name": "Sam Supervisor",
            "roles": ["supervisor"],
        },
    ),
}


def identity_app() -> FastAPI:
    app = FastAPI()

    def problem(detail: str) -> JSONResponse:
        return JSONResponse(
            {"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": detail},
            status_code=401,
            media_type="application/problem+json",
        )

    @app.post("/internal/auth/verify", response_model=None)
    async def verify(
        request: Request, x_service_token: str | None = Header(default=None)
    ) -> JSONResponse | dict[str, Any]:
        if x_service_token != SERVICE_TOKEN:
            return problem("bad service token")
        body = json.loads(await request.body())
        user = USERS.get(body.get("username"))
        if user is None or user[0] != body.get("password"):
            return problem("bad credentials")
        return user[1]

    return app


@pytest.fixture(scope="session")
def stub_identity() -> Iterator[ServerThread]:
    with ServerThread(identity_app()) as server:
        yield server


# --- gateways ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def make_settings(
    private_key_file: Path,
    redis_prefix: str,
    stub_rasa: StubRasa,
    stub_identity: ServerThread,
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[..., Settings]:
    transcripts = tmp_path_factory.mktemp("transcripts") / "transcripts.sqlite3"

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "app_env": "test",
            "redis_url": REDIS_URL,
            "redis_key_prefix": redis_prefix,
            "rasa_url": stub_rasa.url,
            "rasa_auth_token": RASA_AUTH_TOKEN,
            "rasa_timeout_seconds": 5,
            "core_banking_url": stub_identity.url,
            "service_token": SERVICE_TOKEN,
            "jwt_private_key_file": str(private_key_file),
            "jwt_key_id": KEY_ID,
            "jwt_issuer": ISSUER,
            "jwt_audience": AUDIENCE,
            "allowed_origins": "http://allowed.example",
            "hello_timeout_seconds": 0.5,
            "rasa_retry_initial_backoff_seconds": 0.1,
            "rasa_retry_max_backoff_seconds": 0.5,
            "turn_sweep_interval_seconds": 0.5,
            "handoff_sweep_seconds": 0.2,
            "transcript_database_url": f"sqlite+aiosqlite:///{transcripts}",
        }
        values.update(overrides)
        return Settings(**values)

    return build


@pytest.fixture(scope="session")
def gateway(make_settings: Callable[..., Settings]) -> Iterator[ServerThread]:
    with gateway_server(make_settings()) as server:
        yield server


def gateway_server(settings: Settings) -> ServerThread:
    """A gateway with the uvicorn WebSocket options ``python -m gateway`` uses."""
    return ServerThread(create_app(settings), **settings.uvicorn_options())


@pytest.fixture(scope="session")
def gateway2(make_settings: Callable[..., Settings]) -> Iterator[ServerThread]:
    """A second instance sharing Redis with ``gateway`` (multi-instance fan-out)."""
    with gateway_server(make_settings()) as server:
        yield server


@pytest.fixture(scope="session")
def broken_gateway(
    make_settings: Callable[..., Settings], redis_prefix: str
) -> Iterator[ServerThread]:
    """Rasa and core_banking both point at a port nobody listens on."""
    dead = f"http://127.0.0.1:{free_port()}"
    # Its own key prefix: its sweeper must not pick up the healthy gateways' sessions.
    settings = make_settings(
        rasa_url=dead,
        core_banking_url=dead,
        rasa_retry_window_seconds=1,
        rasa_retry_initial_backoff_seconds=0.2,
        redis_key_prefix=f"{redis_prefix}broken:",
    )
    with gateway_server(settings) as server:
        yield server
