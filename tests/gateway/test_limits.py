"""Limits over real sockets: message token buckets (session, user), sockets per user,
idle timeout, frame size against the server's own limit."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator

import pytest
from websockets.exceptions import InvalidStatus

from gateway.auth.tokens import TokenService
from gateway.settings import Settings
from tests.gateway.conftest import ServerThread, gateway_server
from tests.gateway.test_ws import (
    closed_with,
    customer_token,
    hello,
    recv,
    send,
    socket,
    turn,
)


@pytest.fixture(scope="module")
def limited(make_settings: Callable[..., Settings]) -> Iterator[ServerThread]:
    with gateway_server(
        make_settings(
            rate_session_messages=3,
            rate_session_window_seconds=60,
            rate_user_messages=5,
            rate_user_window_seconds=60,
            max_sockets_per_user=2,
        )
    ) as server:
        yield server


async def test_session_bucket(limited: ServerThread) -> None:
    async with socket(limited) as ws:
        await hello(ws)
        for i in range(3):
            assert (await turn(ws, f"m{i}"))[0]["type"] == "ack"
        await send(ws, {"type": "message", "client_msg_id": "over", "text": "one more"})
        error = await recv(ws)
        assert (error["code"], error["client_msg_id"]) == ("rate_limited", "over")
        await send(ws, {"type": "ping"})
        assert await recv(ws) == {"type": "pong"}


async def test_user_bucket_spans_sessions(
    limited: ServerThread, token_service: TokenService
) -> None:
    token = customer_token(token_service, f"cust-{uuid.uuid4().hex[:8]}")
    codes = []
    for _ in range(2):
        async with socket(limited) as ws:
            await hello(ws, token=token)
            for _ in range(3):
                await send(ws, {"type": "message", "client_msg_id": uuid.uuid4().hex, "text": "hi"})
                frame = await recv(ws)
                codes.append(frame.get("code", frame["type"]))
                if frame["type"] == "ack":
                    while (await recv(ws)) != {"type": "typing", "state": "off"}:
                        pass
    assert codes == ["ack"] * 5 + ["rate_limited"]


async def test_sockets_per_user(limited: ServerThread, token_service: TokenService) -> None:
    token = customer_token(token_service, f"cust-{uuid.uuid4().hex[:8]}")
    async with socket(limited) as a, socket(limited) as b:
        await hello(a, token=token)
        await hello(b, token=token)
        async with socket(limited) as c:
            await send(c, {"type": "hello", "token": token})
            assert (await recv(c))["code"] == "rate_limited"
            assert await closed_with(c) == 1008
        async with socket(limited) as guest:  # guests are not counted per user
            await hello(guest)
    # Closed sockets stop counting (unregistered as the server notices the close).
    for _attempt in range(50):
        async with socket(limited) as d:
            await send(d, {"type": "hello", "token": token})
            if (await recv(d))["type"] == "welcome":
                break
    else:
        pytest.fail("a closed socket still counted")


async def test_idle_socket_is_closed_1001(make_settings: Callable[..., Settings]) -> None:
    with gateway_server(make_settings(idle_timeout_seconds=0.3)) as gw:
        async with socket(gw) as ws:
            await hello(ws)
            assert await closed_with(ws) == 1001


async def test_frames_above_the_app_limit_get_too_large_above_the_server_limit_1009(
    gateway: ServerThread, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings()
    assert settings.max_frame_bytes < settings.ws_max_size
    async with socket(gateway, max_size=None) as ws:
        await hello(ws)
        pad = "x" * (settings.ws_max_size - 100)  # well above MAX_FRAME_BYTES
        await ws.send(json.dumps({"type": "ping", "pad": pad}))
        assert (await recv(ws))["code"] == "too_large"
        await send(ws, {"type": "ping"})
        assert await recv(ws) == {"type": "pong"}
        await ws.send("x" * (settings.ws_max_size + 1))
        assert await closed_with(ws) == 1009


async def test_no_per_message_deflate(gateway: ServerThread) -> None:
    async with socket(gateway) as ws:  # the client offers permessage-deflate by default
        assert ws.response is not None
        assert "Sec-WebSocket-Extensions" not in ws.response.headers
        await hello(ws)


async def test_origin_refusal_still_403(limited: ServerThread) -> None:
    with pytest.raises(InvalidStatus):
        async with socket(limited, origin="http://evil.example"):
            pass
