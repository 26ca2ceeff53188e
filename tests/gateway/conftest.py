"""Fixtures for gateway tests: a throwaway RSA key, a unique Redis key prefix, stub Rasa
and identity servers, and real gateway servers (uvicorn in background threads)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
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
from gateway.transcripts.broker import declare
from scripts.ports import free_port

REDIS_URL = "redis://127.0.0.1:6379/0"
SERVICE_TOKEN = "test-service-token"
RASA_AUTH_TOKEN = "test-rasa-token"
ISSUER = "bank-gateway"
AUDIENCE = "bank-api"
KEY_ID = "test-key"


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
    with ``mumble`` is ``nlu_fallback`` (confidence 0.3) answered by the fallback action.

    Tasks, as ``bot/task_state.py`` tells them: a message starting with ``send `` opens
    ``transfer_form`` (asking ``transfer_confirmed``), ``yes`` / ``no`` / ``/affirm`` /
    ``/deny`` end it; ``GET /webhooks/rest/conversations/{id}/task`` says which is open,
    ``POST …/held`` answers ``held: <requests joined by "; ">``."""

    url: str = ""
    calls: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    flaky_down: threading.Event = field(default_factory=threading.Event)
    erased: list[str] = field(default_factory=list)
    exchange: str = ""  # where its events go (empty: nowhere), like Rasa's event broker
    broker: Any = None  # the exchange, once connected (on the stub server's loop)
    broker_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    publishing: set[Any] = field(default_factory=set)
    tasks: dict[str, str] = field(default_factory=dict)  # sender -> the open form

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
            answer = self._answer(sender, message)
            with self.lock:
                if message.startswith("send "):
                    self.tasks[sender] = "transfer_form"
                elif message in ("yes", "no", "/affirm", "/deny"):
                    self.tasks.pop(sender, None)
            # Like Rasa's broker: published in the background, the reply does not wait.
            task = asyncio.create_task(self.publish(self.events_of(body, answer)))
            self.publishing.add(task)
            task.add_done_callback(self.publishing.discard)
            return answer

        @app.get("/conversations/{sender}/tracker", response_model=None)
        async def tracker(sender: str, token: str = "") -> dict[str, Any] | JSONResponse:
            """Rasa-shaped events for the calls seen: intent ``intent_<first word>``."""
            if token != RASA_AUTH_TOKEN:
                return JSONResponse({"message": "no token"}, status_code=401)
            events: list[dict[str, Any]] = []
            for call in self.calls_from(sender):
                events += self.events_of(call, [])
            return {"sender_id": sender, "events": events}

        @app.get("/webhooks/rest/conversations/{sender}/task", response_model=None)
        async def task(
            sender: str, x_rasa_token: str | None = Header(default=None)
        ) -> dict[str, Any] | JSONResponse:
            if x_rasa_token != RASA_AUTH_TOKEN:
                return JSONResponse({"reason": "NotAuthenticated"}, status_code=401)
            with self.lock:
                form = self.tasks.get(sender)
            return {"task": form, "asks": "transfer_confirmed" if form else None}

        @app.post("/webhooks/rest/conversations/{sender}/held", response_model=None)
        async def held(
            sender: str, request: Request, x_rasa_token: str | None = Header(default=None)
        ) -> list[dict[str, Any]] | JSONResponse:
            if x_rasa_token != RASA_AUTH_TOKEN:
                return JSONResponse({"reason": "NotAuthenticated"}, status_code=401)
            requests = (await request.json())["requests"]
            return [{"recipient_id": sender, "text": "held: " + "; ".join(requests)}]

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

    @staticmethod
    def _answer(sender: str, message: str) -> list[dict[str, Any]]:
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

    def events_of(self, call: dict[str, Any], answer: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The events Rasa would record for one message: a message starting with
        ``mumble`` is ``nlu_fallback`` (confidence 0.3) answered by the fallback action,
        anything else ``intent_<first word>`` (0.875) answered by ``action_echo``."""
        text = call["message"]
        fallback = text.startswith("mumble")
        at = call.get("at") or time.time()
        call["at"] = at
        user = {
            "event": "user",
            "timestamp": at,
            "text": text,
            "metadata": call["metadata"],
            "parse_data": {
                "intent": {
                    "name": "nlu_fallback" if fallback else f"intent_{text.split()[0]}",
                    "confidence": 0.3 if fallback else 0.875,
                },
                "entities": [
                    {"entity": "amount", "value": "5", "start": 0, "end": 1, "extractor": "x"}
                ],
            },
        }
        action = "action_default_fallback" if fallback else "action_echo"
        events = [user, {"event": "action", "timestamp": at + 0.001, "name": action}]
        events += [
            {"event": "bot", "timestamp": at + 0.002 + i / 1000, "text": reply.get("text")}
            for i, reply in enumerate(answer)
        ]
        events.append({"event": "action", "timestamp": at + 0.01, "name": "action_listen"})
        return [{"sender_id": call["sender"], **event} for event in events]

    async def publish(self, events: list[dict[str, Any]]) -> None:
        """Onto the exchange, as Rasa's Pika broker does (a fanout exchange)."""
        if not self.exchange:
            return
        async with self.broker_lock:
            if self.broker is None:
                connection = await aio_pika.connect(host="127.0.0.1", port=5672)
                channel = await connection.channel()
                self.broker = await channel.declare_exchange(
                    self.exchange, aio_pika.ExchangeType.FANOUT
                )
            exchange = self.broker
            for event in events:
                await exchange.publish(
                    aio_pika.Message(
                        json.dumps(event).encode(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT
                    ),
                    "",
                )


EVENTS_EXCHANGE = f"test-rasa-events-{uuid.uuid4().hex[:8]}"
EVENT_QUEUES: list[str] = []  # one per gateway settings, deleted after the session


def events_queue() -> str:
    """A queue of its own for one gateway's broker consumer, bound to the stub's
    exchange before the gateway starts (so no event published before its consumer
    connects is lost), as Rasa's broker binds its queue."""
    name = f"{EVENTS_EXCHANGE}-{len(EVENT_QUEUES)}"
    EVENT_QUEUES.append(name)

    async def bind() -> None:
        connection = await aio_pika.connect(host="127.0.0.1", port=5672)
        async with connection:
            await declare(await connection.channel(), EVENTS_EXCHANGE, name)

    with ThreadPoolExecutor(1) as pool:  # callers may be inside an event loop
        pool.submit(asyncio.run, bind()).result()
    return name


@pytest.fixture(scope="session")
def stub_rasa() -> Iterator[StubRasa]:
    stub = StubRasa(exchange=EVENTS_EXCHANGE)
    with ServerThread(stub.app()) as server:
        stub.url = server.url
        yield stub
    asyncio.run(delete_broker_objects(EVENTS_EXCHANGE, EVENT_QUEUES))


async def delete_broker_objects(exchange: str, queues: list[str]) -> None:
    connection = await aio_pika.connect(host="127.0.0.1", port=5672)
    async with connection:
        channel = await connection.channel()
        for queue in queues:
            await channel.queue_delete(queue)
        await channel.exchange_delete(exchange)


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
            "rasa_events_exchange": EVENTS_EXCHANGE,
        }
        values.update(overrides)
        values.setdefault("rasa_events_queue", events_queue())
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
