"""The console's live side over real HTTP, sockets and Redis: the handoff queue is
ordered by waiting time and shows the wait; a request nobody takes expires and the
customer is told the assistant is back; changes reach a staff member's event stream
(Server-Sent Events) held by the *other* gateway instance, through Redis; the stream
needs a staff token, ends when that token expires and does not hold up a shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import redis

from gateway.auth.tokens import TokenService
from gateway.console.service import EXPIRED_NOTICE
from gateway.settings import Settings
from tests.gateway.conftest import ServerThread, gateway_server
from tests.gateway.test_console import console, staff_token
from tests.gateway.test_ws import customer_token, hello, recv, socket, turn

TIMEOUT = 10.0


def backdate(client: redis.Redis, prefix: str, sid: str, seconds: float) -> None:
    """Make the customer have asked for a person ``seconds`` earlier (no sleeping)."""
    at = float(client.hget(f"{prefix}chat:{sid}", "handoff_at") or 0)
    assert at > 0, "the request carries no time"
    client.hset(f"{prefix}chat:{sid}", "handoff_at", f"{at - seconds:.6f}")


async def queue_of(gateway: ServerThread, token: str, sids: list[str]) -> list[dict[str, Any]]:
    data = (await console(gateway, "GET", "/handoffs", token)).json()["data"]
    return [h for h in data if h["session_id"] in sids]


async def test_the_queue_is_longest_waiting_first_with_the_wait(
    gateway: ServerThread,
    token_service: TokenService,
    redis_client: redis.Redis,
    redis_prefix: str,
) -> None:
    agent = staff_token(token_service)
    async with socket(gateway) as first, socket(gateway) as second:
        a = (await hello(first, token=customer_token(token_service, "cust-qa")))["session_id"]
        b = (await hello(second, token=customer_token(token_service, "cust-qb")))["session_id"]
        await turn(first, "handoff please")
        await turn(second, "handoff please")
        assert [h["session_id"] for h in await queue_of(gateway, agent, [a, b])] == [a, b]

        await turn(second, "handoff again, still waiting")  # asking again keeps the place
        backdate(redis_client, redis_prefix, b, 300)
        queue = await queue_of(gateway, agent, [a, b])
        assert [h["session_id"] for h in queue] == [b, a]
        assert queue[0]["waiting_seconds"] >= 300 > queue[1]["waiting_seconds"]

        assert (await console(gateway, "POST", f"/sessions/{b}/accept", agent)).status_code == 200
        queue = await queue_of(gateway, agent, [a, b])
        assert [(h["session_id"], h["state"]) for h in queue] == [
            (a, "requested"),  # waiting ones first, then the ones staff hold
            (b, "accepted"),
        ]


async def test_an_abandoned_request_expires_and_the_customer_is_told(
    gateway: ServerThread,
    token_service: TokenService,
    redis_client: redis.Redis,
    redis_prefix: str,
) -> None:
    agent = staff_token(token_service)
    async with socket(gateway) as ws:
        sid = (await hello(ws, token=customer_token(token_service, "cust-exp")))["session_id"]
        asked = await turn(ws, "handoff please")
        assert any(f["type"] == "handoff" and f["state"] == "requested" for f in asked)
        backdate(redis_client, redis_prefix, sid, 901)  # HANDOFF_QUEUE_TTL_SECONDS is 900

        ended, notice = await recv(ws), await recv(ws)  # the gateway's own sweep
        assert (ended["type"], ended["state"]) == ("handoff", "ended")
        assert (notice["type"], notice["text"]) == ("bot", EXPIRED_NOTICE)
        assert notice["seq"] == ended["seq"] + 1
        assert await queue_of(gateway, agent, [sid]) == []
        late = await console(gateway, "POST", f"/sessions/{sid}/accept", agent)
        assert late.status_code == 409  # nobody takes an expired request

        back = await turn(ws, "hello again")  # the bot answers again
        assert [f["text"] for f in back if f["type"] == "bot"] == ["you said: hello again"]


async def test_a_request_being_answered_never_expires(
    gateway: ServerThread,
    token_service: TokenService,
    redis_client: redis.Redis,
    redis_prefix: str,
) -> None:
    agent = staff_token(token_service)
    async with socket(gateway) as ws:
        sid = (await hello(ws))["session_id"]
        await turn(ws, "handoff please")
        assert (await console(gateway, "POST", f"/sessions/{sid}/accept", agent)).status_code == 200
        assert (await recv(ws))["state"] == "accepted"
        backdate(redis_client, redis_prefix, sid, 5000)
        # Sweeps run every 0.2 s; an agent message after a few is still the next frame.
        await asyncio.sleep(1.0)
        sent = await console(
            gateway, "POST", f"/sessions/{sid}/messages", agent, json={"text": "hi"}
        )
        assert sent.status_code == 201
        assert (await recv(ws))["type"] == "agent"


@asynccontextmanager
async def event_stream(
    gateway: ServerThread, token: str | None
) -> AsyncIterator[tuple[httpx.Response, AsyncIterator[tuple[str, dict[str, Any]]]]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx.AsyncClient(base_url=gateway.url, timeout=TIMEOUT) as http,
        http.stream("GET", "/console/api/events", headers=headers) as response,
    ):

        async def events() -> AsyncIterator[tuple[str, dict[str, Any]]]:
            name = ""
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    yield name, json.loads(line.removeprefix("data: "))

        yield response, events()


async def next_event(
    events: AsyncIterator[tuple[str, dict[str, Any]]], wanted: Any
) -> tuple[str, dict[str, Any]]:
    async def find() -> tuple[str, dict[str, Any]]:
        async for name, data in events:
            if wanted(name, data):
                return name, data
        raise AssertionError("the stream ended")

    return await asyncio.wait_for(find(), TIMEOUT)


async def test_changes_reach_a_console_on_the_other_instance(
    gateway: ServerThread, gateway2: ServerThread, token_service: TokenService
) -> None:
    agent = staff_token(token_service)
    async with event_stream(gateway2, agent) as (response, events):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        await next_event(events, lambda name, _: name == "ready")
        async with socket(gateway) as ws:  # the customer is on the first instance
            sid = (await hello(ws))["session_id"]
            await turn(ws, "handoff please")
            _, changed = await next_event(
                events, lambda name, d: name == "sessions" and sid in d["session_ids"]
            )
            assert changed["handoff"] is True
            accepted = await console(gateway, "POST", f"/sessions/{sid}/accept", agent)
            assert accepted.status_code == 200
            await next_event(events, lambda name, d: name == "queue" and d["session_id"] == sid)
            tagged = await console(
                gateway, "POST", f"/sessions/{sid}/tags", agent, json={"tag": "x"}
            )
            assert tagged.status_code == 200, tagged.text
            await next_event(
                events, lambda name, d: name == "sessions" and d["session_ids"] == [sid]
            )


async def test_the_event_stream_needs_staff_and_ends_with_the_token(
    gateway: ServerThread, token_service: TokenService
) -> None:
    async with event_stream(gateway, None) as (response, _):
        assert response.status_code == 401
    async with event_stream(gateway, customer_token(token_service, "cust-sse")) as (response, _):
        assert response.status_code == 403
    short = token_service.issue(
        subject="staff-short", username="s", display_name="S", roles=["agent"], ttl_seconds=2
    )
    async with event_stream(gateway, short) as (response, events):
        assert response.status_code == 200
        await next_event(events, lambda name, _: name == "expired")


def test_an_open_event_stream_does_not_hold_up_a_shutdown(
    make_settings: Callable[..., Settings], token_service: TokenService
) -> None:
    server = gateway_server(make_settings())
    server.__enter__()
    opened = threading.Event()

    def listen() -> None:
        headers = {"Authorization": f"Bearer {staff_token(token_service)}"}
        url = f"{server.url}/console/api/events"
        stream = httpx.stream("GET", url, headers=headers, timeout=120)  # the client waits
        with contextlib.suppress(httpx.HTTPError), stream as r:
            for line in r.iter_lines():
                if line.startswith("event: ready"):
                    opened.set()

    threading.Thread(target=listen, daemon=True).start()
    assert opened.wait(10)
    server.server.should_exit = True
    server.thread.join(timeout=60)  # uvicorn would wait for the stream for ever
    assert not server.thread.is_alive()
