"""The /ws protocol over real sockets: gateway in uvicorn, stub Rasa, real Redis."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from jose import jwt
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from gateway.auth.tokens import TokenError, TokenService
from gateway.chat.credentials import TurnSealer
from gateway.settings import DEFAULT_CHAT_CREDENTIAL_KEY
from tests.gateway.conftest import ServerThread, StubRasa

TIMEOUT = 5


@asynccontextmanager
async def socket(server: ServerThread, **kw: Any) -> AsyncIterator[ClientConnection]:
    async with connect(server.ws_url, open_timeout=TIMEOUT, **kw) as ws:
        yield ws


async def send(ws: ClientConnection, frame: dict[str, Any]) -> None:
    await ws.send(json.dumps(frame))


async def recv(ws: ClientConnection) -> dict[str, Any]:
    return dict(json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT)))


async def hello(ws: ClientConnection, **fields: Any) -> dict[str, Any]:
    await send(ws, {"type": "hello", **fields})
    welcome = await recv(ws)
    assert welcome["type"] == "welcome", welcome
    return welcome


async def turn(ws: ClientConnection, text: str, cmid: str | None = None) -> list[dict[str, Any]]:
    """Send a message; return every frame up to and including ``typing off``."""
    await send(ws, {"type": "message", "client_msg_id": cmid or uuid.uuid4().hex, "text": text})
    return await until_typing_off(ws)


async def until_typing_off(ws: ClientConnection) -> list[dict[str, Any]]:
    got = []
    while True:
        frame = await recv(ws)
        got.append(frame)
        if frame == {"type": "typing", "state": "off"}:
            return got


async def closed_with(ws: ClientConnection) -> int | None:
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(ws.recv(), TIMEOUT)
    return ws.close_code


def customer_token(
    tokens: TokenService, sub: str = "cust-001", roles: list[str] | None = None
) -> str:
    return tokens.issue(
        subject=sub, username=sub, display_name=f"Name {sub}", roles=roles or ["customer"]
    )


async def test_guest_hello_gets_welcome(gateway: ServerThread) -> None:
    async with socket(gateway) as ws:
        welcome = await hello(ws)
        assert welcome["resumed"] is False
        assert welcome["user"] is None
        assert len(welcome["session_id"]) == 32


async def test_the_browsers_language_reaches_the_nlu_as_the_locale(
    gateway: ServerThread, stub_rasa: StubRasa
) -> None:
    """How "1.100" is read depends on how the customer writes numbers: the handshake's
    Accept-Language (browsers send it on the upgrade) goes to Rasa with every turn."""
    headers = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.8"}
    async with socket(gateway, additional_headers=headers) as ws:
        await hello(ws)
        text = f"send 1.100 {uuid.uuid4().hex}"
        await turn(ws, text, "m1")
        [call] = stub_rasa.calls_for(text)
        assert call["metadata"]["locale"] == "de-DE"


async def test_message_gets_ack_typing_bot_and_rasa_metadata(
    gateway: ServerThread, stub_rasa: StubRasa, token_service: TokenService
) -> None:
    token = customer_token(token_service)
    async with socket(gateway) as ws:
        welcome = await hello(ws, token=token)
        assert welcome["user"] == "cust-001"
        sid = welcome["session_id"]
        text = f"hello {uuid.uuid4().hex}"
        frames = await turn(ws, text, "m1")
        assert frames == [
            {"type": "ack", "client_msg_id": "m1", "seq": 1},
            {"type": "typing", "state": "on"},
            {"type": "bot", "seq": 2, "reply_to": "m1", "text": f"you said: {text}"},
            {"type": "typing", "state": "off"},
        ]
        [call] = stub_rasa.calls_for(text)
        assert call["sender"] == sid
        sealed = call["metadata"].pop("credential")
        call["metadata"].pop("traceparent")  # tests/gateway/test_observability.py
        assert call["metadata"] == {
            "customer_id": "cust-001",
            "display_name": "Name cust-001",
            "session_id": sid,
            "client_msg_id": "m1",
            "turn_id": f"{sid}:m1",
            "locale": None,  # no Accept-Language: the NLU asks about "1.100"
        }
        # No token in clear: the credential opens only with the shared key.
        assert "eyJ" not in sealed
        opened = TurnSealer(DEFAULT_CHAT_CREDENTIAL_KEY, ttl_seconds=60).open(sealed)
        assert (opened.session_id, opened.turn_id, opened.customer_id) == (
            sid,
            f"{sid}:m1",
            "cust-001",
        )
        delegated = opened.token
        assert delegated is not None and delegated != token
        # A fresh 60 s token of the delegated audience, for the same subject and roles,
        # which the gateway itself (/ws, the console) refuses.
        with pytest.raises(TokenError):
            token_service.decode(delegated)
        raw, own = jwt.get_unverified_claims(delegated), token_service.decode(token)
        assert (raw["sub"], tuple(raw["roles"]), raw["name"]) == (own.sub, own.roles, own.name)
        assert raw["aud"] == "bank-chat" and raw["jti"] != own.jti
        assert raw["exp"] - raw["iat"] == 60
        # seq keeps increasing across turns, and several responses -> several frames.
        frames = await turn(ws, "two things", "m2")
        assert [(f["type"], f.get("seq")) for f in frames] == [
            ("ack", 3),
            ("typing", None),
            ("bot", 4),
            ("bot", 5),
            ("typing", None),
        ]


async def test_payload_and_buttons(gateway: ServerThread, stub_rasa: StubRasa) -> None:
    async with socket(gateway) as ws:
        await hello(ws)
        await send(ws, {"type": "message", "client_msg_id": "b1", "payload": "/show_buttons"})
        frames = await until_typing_off(ws)
        bot = next(f for f in frames if f["type"] == "bot")
        assert bot["buttons"] == [
            {"title": "Yes", "payload": "/affirm"},
            {"title": "No", "payload": "/deny"},
        ]
        assert stub_rasa.calls_for("/show_buttons")[-1]["metadata"]["customer_id"] is None


async def test_duplicate_client_msg_id_is_replayed_not_recomputed(
    gateway: ServerThread, stub_rasa: StubRasa
) -> None:
    text = f"once {uuid.uuid4().hex}"
    async with socket(gateway) as ws:
        await hello(ws)
        first = await turn(ws, text, "dup")
        await send(ws, {"type": "message", "client_msg_id": "dup", "text": text})
        replay = [await recv(ws), await recv(ws)]
        await send(ws, {"type": "ping"})
        assert await recv(ws) == {"type": "pong"}  # nothing else was sent for the duplicate
    assert replay == [f for f in first if f["type"] in ("ack", "bot")]
    assert len(stub_rasa.calls_for(text)) == 1


async def test_resume_resends_frames_after_last_seq(gateway: ServerThread) -> None:
    async with socket(gateway) as ws:
        sid = (await hello(ws))["session_id"]
        await turn(ws, "first", "r1")  # ack 1, bot 2
        await turn(ws, "second", "r2")  # ack 3, bot 4
    async with socket(gateway) as ws:
        welcome = await hello(ws, session_id=sid, last_seq=2)
        assert (welcome["session_id"], welcome["resumed"]) == (sid, True)
        # The customer's own turn comes back too (masked as stored), in seq order.
        assert await recv(ws) == {"type": "user", "seq": 3, "client_msg_id": "r2", "text": "second"}
        assert await recv(ws) == {
            "type": "bot",
            "seq": 4,
            "reply_to": "r2",
            "text": "you said: second",
        }
        await send(ws, {"type": "ping"})
        assert await recv(ws) == {"type": "pong"}
        frames = await turn(ws, "third", "r3")
        assert [f.get("seq") for f in frames if "seq" in f] == [5, 6]
    async with socket(gateway) as ws:
        await hello(ws, session_id=sid, last_seq=0)
        assert [((f := await recv(ws))["type"], f["seq"]) for _ in range(6)] == [
            ("user", 1),
            ("bot", 2),
            ("user", 3),
            ("bot", 4),
            ("user", 5),
            ("bot", 6),
        ]


async def test_resume_by_someone_else_is_forbidden(
    gateway: ServerThread, token_service: TokenService
) -> None:
    alice, bob = customer_token(token_service, "alice"), customer_token(token_service, "bob")
    async with socket(gateway) as ws:
        alice_sid = (await hello(ws, token=alice))["session_id"]
    async with socket(gateway) as ws:
        guest_sid = (await hello(ws))["session_id"]
    for token, sid in [(bob, alice_sid), (None, alice_sid), (alice, guest_sid)]:
        async with socket(gateway) as ws:
            fields = {"session_id": sid, "last_seq": 0} | ({"token": token} if token else {})
            await send(ws, {"type": "hello", **fields})
            assert (await recv(ws))["code"] == "forbidden"
            assert await closed_with(ws) == 4403
    async with socket(gateway) as ws:  # the owner still can
        assert (await hello(ws, token=alice, session_id=alice_sid, last_seq=0))["resumed"]


async def test_unknown_session_id_gets_a_new_session(gateway: ServerThread) -> None:
    async with socket(gateway) as ws:
        welcome = await hello(ws, session_id="made-up", last_seq=3)
        assert welcome["resumed"] is False
        assert welcome["session_id"] != "made-up"


async def test_no_hello_in_time_is_auth_timeout(gateway: ServerThread) -> None:
    async with socket(gateway) as ws:
        started = time.monotonic()
        assert (await recv(ws))["code"] == "auth_timeout"
        assert await closed_with(ws) == 4408
        assert time.monotonic() - started < 3


@pytest.mark.parametrize("kind", ["garbage", "staff", "delegated"])
async def test_bad_token_is_unauthorized(
    gateway: ServerThread, token_service: TokenService, kind: str
) -> None:
    tokens = {
        "garbage": "not.a.jwt",
        "staff": customer_token(token_service, roles=["agent"]),
        # A chat turn's delegated token (issue 13: it opened sockets and renewed itself).
        "delegated": token_service.issue(
            subject="cust-001",
            username="u",
            display_name="U",
            roles=["customer"],
            audience="bank-chat",
        ),
    }
    token = tokens[kind]
    async with socket(gateway) as ws:
        await send(ws, {"type": "hello", "token": token})
        assert (await recv(ws))["code"] == "unauthorized"
        assert await closed_with(ws) == 4401


async def test_bad_frames_keep_the_socket_usable(gateway: ServerThread) -> None:
    async with socket(gateway) as ws:
        await hello(ws)
        for raw, code in [
            ("{not json", "bad_request"),
            ('{"type": "dance"}', "bad_request"),
            ("[" * 5000, "bad_request"),  # RecursionError closed the socket before
            (
                json.dumps({"type": "message", "client_msg_id": "m", "text": "x" * 5000}),
                "too_large",
            ),
        ]:
            await ws.send(raw)
            assert (await recv(ws))["code"] == code
        await ws.send(b"\x00binary")
        assert (await recv(ws))["code"] == "bad_request"
        await ws.send(json.dumps({"type": "ping", "pad": "x" * 17000}))
        assert (await recv(ws))["code"] == "too_large"
        await send(ws, {"type": "ping"})
        assert await recv(ws) == {"type": "pong"}


async def test_origin_policy_at_handshake(gateway: ServerThread) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with socket(gateway, origin="http://evil.example"):
            pass
    assert refused.value.response.status_code == 403
    for origin in ["http://allowed.example", gateway.url]:
        async with socket(gateway, origin=origin) as ws:
            await hello(ws)


async def test_rasa_down_is_unavailable_and_socket_stays_open(
    broken_gateway: ServerThread,
) -> None:
    async with socket(broken_gateway) as ws:
        await hello(ws)
        frames = await turn(ws, "anyone there?", "down1")
        assert frames == [
            {"type": "ack", "client_msg_id": "down1", "seq": 1},
            {"type": "typing", "state": "on"},
            {
                "type": "error",
                "code": "unavailable",
                "client_msg_id": "down1",
                "message": frames[2]["message"],
            },
            {"type": "typing", "state": "off"},
        ]
        # The turn is kept and retried in the background: resending it only re-acks.
        await send(ws, {"type": "message", "client_msg_id": "down1", "text": "anyone there?"})
        assert await recv(ws) == {"type": "ack", "client_msg_id": "down1", "seq": 1}
        await send(ws, {"type": "ping"})
        assert await recv(ws) == {"type": "pong"}
        # Past RASA_RETRY_WINDOW_SECONDS (1 s here) the user is told plainly.
        failed = await until_typing_off(ws)
        assert failed[0]["type"] == "bot" and failed[0]["seq"] == 2
        assert failed[0]["custom"] == {"gateway": "turn_failed"}
        assert "could not answer" in failed[0]["text"]


async def test_every_socket_of_a_session_gets_its_frames_across_instances(
    gateway: ServerThread, gateway2: ServerThread
) -> None:
    async with socket(gateway) as a:
        sid = (await hello(a))["session_id"]
        async with socket(gateway) as b, socket(gateway2) as c:
            await hello(b, session_id=sid, last_seq=0)
            await hello(c, session_id=sid, last_seq=0)
            sent = await turn(a, "fan out", "f1")
            assert await until_typing_off(b) == sent
            assert await until_typing_off(c) == sent
