"""Turn processing across instances (real sockets, real Redis, stub Rasa): delegated
tokens and socket auth expiry, one turn at a time per session over all instances,
exactly-once for duplicates, queue bound, crash recovery, Rasa degradation."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from gateway.auth.tokens import TokenService
from gateway.settings import Settings
from tests.gateway.conftest import ServerThread, StubRasa, gateway_server
from tests.gateway.test_ws import (
    closed_with,
    customer_token,
    hello,
    recv,
    send,
    socket,
    turn,
    until_typing_off,
)


async def until(ws: Any, done: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    while not done(got):
        got.append(await recv(ws))
    return got


def bots_for(frames: list[dict[str, Any]], cmid: str) -> list[dict[str, Any]]:
    return [f for f in frames if f["type"] == "bot" and f["reply_to"] == cmid]


@pytest.fixture(scope="module")
def tight_gateway(make_settings: Callable[..., Settings]) -> Iterator[ServerThread]:
    with gateway_server(make_settings(turn_queue_max=2, rate_session_messages=100)) as server:
        yield server


async def test_expired_socket_token_is_refused_at_the_next_turn(
    gateway: ServerThread, token_service: TokenService
) -> None:
    # A token that is valid for the hello but expires two seconds later.
    short = token_service.issue(
        subject="cust-exp",
        username="x",
        display_name="X",
        roles=["customer"],
        now=int(time.time()) - 898,
    )
    async with socket(gateway) as ws:
        sid = (await hello(ws, token=short))["session_id"]
        await asyncio.sleep(max(0.0, token_service.decode(short).exp - time.time() + 0.2))
        await send(ws, {"type": "message", "client_msg_id": "e1", "text": "hi"})
        assert (await recv(ws))["code"] == "unauthorized"
        assert await closed_with(ws) == 4401
    # The client refreshes its token and resumes the same session.
    async with socket(gateway) as ws:
        welcome = await hello(
            ws, token=customer_token(token_service, "cust-exp"), session_id=sid, last_seq=0
        )
        assert welcome["resumed"] is True
        assert (await turn(ws, "back again", "e2"))[0]["type"] == "ack"


async def test_turns_of_one_session_run_one_at_a_time_across_instances(
    gateway: ServerThread, gateway2: ServerThread, stub_rasa: StubRasa
) -> None:
    async with socket(gateway) as a:
        sid = (await hello(a))["session_id"]
        async with socket(gateway2) as b:
            await hello(b, session_id=sid, last_seq=0)
            await send(a, {"type": "message", "client_msg_id": "s1", "text": "slow 0.5 first"})
            assert (await recv(a))["type"] == "ack"
            await send(b, {"type": "message", "client_msg_id": "s2", "text": "then second"})
            got = await until(b, lambda fs: bool(bots_for(fs, "s2")))
    seqs = {
        (f["type"], f.get("client_msg_id") or f.get("reply_to")): f["seq"]
        for f in got
        if "seq" in f
    }
    assert seqs[("ack", "s1")] < seqs[("ack", "s2")] < seqs[("bot", "s1")] < seqs[("bot", "s2")]
    first, second = stub_rasa.calls_from(sid)
    assert (first["message"], second["message"]) == ("slow 0.5 first", "then second")
    assert second["started"] >= first["ended"]  # never concurrently


async def test_duplicate_on_another_instance_while_running_is_not_sent_twice(
    gateway: ServerThread, gateway2: ServerThread, stub_rasa: StubRasa
) -> None:
    text = f"slow 0.5 {uuid.uuid4().hex}"
    async with socket(gateway) as a:
        sid = (await hello(a))["session_id"]
        async with socket(gateway2) as b:
            await hello(b, session_id=sid, last_seq=0)
            await send(a, {"type": "message", "client_msg_id": "d1", "text": text})
            ack = await recv(a)
            assert await recv(b) == ack  # every socket sees the ack
            await send(b, {"type": "message", "client_msg_id": "d1", "text": text})
            # The same ack again (only to the asker), then the replies when ready.
            got = await until(b, lambda fs: bool(bots_for(fs, "d1")))
            assert got.count(ack) == 1
            assert [f["text"] for f in bots_for(got, "d1")] == [f"you said: {text}"]
    assert len(stub_rasa.calls_for(text)) == 1


async def test_queue_bound_is_rate_limited(tight_gateway: ServerThread) -> None:
    async with socket(tight_gateway) as ws:
        await hello(ws)
        await send(ws, {"type": "message", "client_msg_id": "q1", "text": "slow 1 busy"})
        await send(ws, {"type": "message", "client_msg_id": "q2", "text": "waiting"})
        await send(ws, {"type": "message", "client_msg_id": "q3", "text": "one too many"})
        got = await until(ws, lambda fs: any(f["type"] == "error" for f in fs))
        assert got[-1]["code"] == "rate_limited" and got[-1]["client_msg_id"] == "q3"
        await until(ws, lambda fs: bool(bots_for(fs, "q2")) and fs[-1]["type"] == "typing")
        # Once the queue drains the same id is accepted.
        assert (await turn(ws, "one too many", "q3"))[0]["type"] == "ack"


async def test_a_dead_workers_session_is_picked_up_by_the_sweeper(
    gateway: ServerThread, redis_client: redis.Redis, redis_prefix: str
) -> None:
    async with socket(gateway) as ws:
        sid = (await hello(ws))["session_id"]
        # A worker that died holding the lease: nobody renews it.
        redis_client.set(f"{redis_prefix}chat:{sid}:lease", "dead-worker", px=300)
        got = await turn(ws, "orphaned turn", "o1")
        assert [f["text"] for f in bots_for(got, "o1")] == ["you said: orphaned turn"]


async def test_slow_rasa_gets_a_notice_then_the_answer(
    make_settings: Callable[..., Settings], stub_rasa: StubRasa
) -> None:
    with gateway_server(make_settings(rasa_soft_timeout_seconds=0.2)) as gw:
        async with socket(gw) as ws:
            await hello(ws)
            got = await turn(ws, "slow 0.6 thinking", "w1")
    assert [f["type"] for f in got] == ["ack", "typing", "error", "bot", "typing"]
    assert got[2]["code"] == "unavailable" and got[2]["client_msg_id"] == "w1"
    assert got[3]["text"] == "you said: slow 0.6 thinking"


async def test_rasa_back_after_an_outage_answers_the_kept_turn(
    gateway: ServerThread, stub_rasa: StubRasa
) -> None:
    text = f"flaky {uuid.uuid4().hex}"
    stub_rasa.flaky_down.set()
    try:
        async with socket(gateway) as ws:
            await hello(ws)
            got = await turn(ws, text, "f1")
            assert got[2]["code"] == "unavailable"
            stub_rasa.flaky_down.clear()
            got = await until_typing_off(ws)
            assert [f["text"] for f in bots_for(got, "f1")] == [f"you said: {text}"]
    finally:
        stub_rasa.flaky_down.clear()
    assert len(stub_rasa.calls_for(text)) >= 2
