"""The staff console API over real HTTP, real sockets and real Redis: taking over a
conversation that asked for a person, agent messages reaching the customer (and
surviving resume), the bot paused meanwhile and back afterwards, the transcript in
order, and each refusal (401, 403, 404, 409, 422)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from gateway.auth.tokens import TokenService
from tests.gateway.conftest import ServerThread, StubRasa
from tests.gateway.test_ws import customer_token, hello, recv, socket, turn


def staff_token(
    tokens: TokenService, sub: str = "staff-1", role: str = "agent", name: str = "Alex Agent"
) -> str:
    return tokens.issue(subject=sub, username=sub, display_name=name, roles=[role])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def console(
    gateway: ServerThread, method: str, path: str, token: str | None, **kw: Any
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        return await http.request(
            method, f"/console/api{path}", headers=bearer(token) if token else {}, **kw
        )


async def transcript_kinds(
    gateway: ServerThread, sid: str, token: str, count: int
) -> list[dict[str, Any]]:
    for _ in range(200):  # written in the background; poll, do not time it
        response = await console(gateway, "GET", f"/sessions/{sid}/transcript", token)
        assert response.status_code == 200, response.text
        if len(rows := response.json()["data"]) >= count:
            return list(rows)
        await asyncio.sleep(0.05)
    pytest.fail(f"transcript of {sid} never reached {count} rows")


async def test_agent_takes_over_talks_and_gives_back(
    gateway: ServerThread, token_service: TokenService, stub_rasa: StubRasa
) -> None:
    agent = staff_token(token_service)
    async with socket(gateway) as ws:
        sid = (await hello(ws, token=customer_token(token_service, "cust-con")))["session_id"]
        asked = await turn(ws, "handoff please", "c1")
        assert {"type": "handoff", "seq": 3, "state": "requested"} in asked

        queue = (await console(gateway, "GET", "/handoffs", agent)).json()["data"]
        waiting = next(h for h in queue if h["session_id"] == sid)
        assert waiting.items() >= {"state": "requested", "customer_id": "cust-con"}.items()
        assert waiting["agent"] is None and waiting["waiting_seconds"] >= 0

        accepted = await console(gateway, "POST", f"/sessions/{sid}/accept", agent)
        assert accepted.status_code == 200, accepted.text
        assert accepted.json() == {"session_id": sid, "seq": 4, "state": "accepted"}
        assert await recv(ws) == {"type": "handoff", "seq": 4, "state": "accepted"}
        queue = (await console(gateway, "GET", "/handoffs", agent)).json()["data"]
        held = next(h for h in queue if h["session_id"] == sid)
        assert (held["state"], held["agent"], held["agent_sub"]) == (
            "accepted",
            "Alex Agent",
            "staff-1",
        )

        # While the agent holds it, the customer's turns reach the console, not Rasa.
        to_agent = await turn(ws, "is anyone there?", "c2")
        assert [f["type"] for f in to_agent] == ["ack", "typing", "typing"]
        assert stub_rasa.calls_for("is anyone there?") == []

        sent = await console(
            gateway,
            "POST",
            f"/sessions/{sid}/messages",
            agent,
            json={"text": "Hi, this is Alex. How can I help?"},
        )
        assert sent.status_code == 201, sent.text
        assert await recv(ws) == {
            "type": "agent",
            "seq": 6,
            "agent": "Alex Agent",
            "text": "Hi, this is Alex. How can I help?",
        }

        ended = await console(gateway, "POST", f"/sessions/{sid}/end", agent)
        assert ended.json() == {"session_id": sid, "seq": 7, "state": "ended"}
        assert await recv(ws) == {"type": "handoff", "seq": 7, "state": "ended"}
        back = await turn(ws, "thanks, bye", "c3")
        assert [f.get("text") for f in back if f["type"] == "bot"] == ["you said: thanks, bye"]

    async with socket(gateway) as ws:  # agent frames are stored like any server frame
        await hello(ws, token=customer_token(token_service, "cust-con"), session_id=sid, last_seq=5)
        assert (await recv(ws))["type"] == "agent"

    rows = await transcript_kinds(gateway, sid, agent, 6)
    assert [(r["kind"], r["user_text"]) for r in rows] == [
        ("bot", "handoff please"),
        ("handoff", ""),
        ("to_agent", "is anyone there?"),
        ("agent", ""),
        ("handoff", ""),
        ("bot", "thanks, bye"),
    ]
    assert rows[3]["replies"][0]["text"] == "Hi, this is Alex. How can I help?"
    sessions = (await console(gateway, "GET", "/sessions?customer_id=cust-con", agent)).json()
    assert [(s["session_id"], "handoff" in s["flags"]) for s in sessions["data"]] == [(sid, True)]


async def test_only_the_holder_speaks_and_a_supervisor_barges_in_visibly(
    gateway: ServerThread, token_service: TokenService
) -> None:
    first, second = staff_token(token_service, "staff-a"), staff_token(token_service, "staff-b")
    boss = staff_token(token_service, "boss", "supervisor", "Sam Supervisor")
    async with socket(gateway) as ws:
        sid = (await hello(ws))["session_id"]
        early = await console(
            gateway, "POST", f"/sessions/{sid}/messages", first, json={"text": "hello?"}
        )
        assert early.status_code == 409  # nobody asked for a person yet
        assert early.headers["content-type"] == "application/problem+json"
        await turn(ws, "handoff now")
        assert (await console(gateway, "POST", f"/sessions/{sid}/accept", first)).status_code == 200
        assert (
            await console(gateway, "POST", f"/sessions/{sid}/accept", second)
        ).status_code == 409
        denied = await console(
            gateway, "POST", f"/sessions/{sid}/messages", second, json={"text": "me too"}
        )
        assert denied.status_code == 409 and "another agent" in denied.json()["detail"]
        assert (await console(gateway, "POST", f"/sessions/{sid}/end", second)).status_code == 409
        # A supervisor cannot type into the agent's chat unannounced ...
        unannounced = await console(
            gateway, "POST", f"/sessions/{sid}/messages", boss, json={"text": "Supervisor here."}
        )
        assert unannounced.status_code == 409, unannounced.text
        # ... but takes it over, which the customer (and the agent) see.
        took = await console(gateway, "POST", f"/sessions/{sid}/accept", boss)
        assert took.status_code == 200, took.text
        said = await console(
            gateway, "POST", f"/sessions/{sid}/messages", boss, json={"text": "Supervisor here."}
        )
        assert said.status_code == 201
        frames = [await recv(ws) for _ in range(4)]
        lost = await console(
            gateway, "POST", f"/sessions/{sid}/messages", first, json={"text": "still me?"}
        )
        assert lost.status_code == 409  # the agent no longer holds it
        queue = (await console(gateway, "GET", "/handoffs", first)).json()["data"]
    assert [(f["type"], f.get("state"), f.get("agent")) for f in frames] == [
        ("handoff", "accepted", None),
        ("handoff", "accepted", None),
        ("agent", None, "Sam Supervisor"),
        ("agent", None, "Sam Supervisor"),
    ]
    assert (
        frames[2]["text"] == "Sam Supervisor (supervisor) has taken over this chat from Alex Agent."
    )
    assert next(h for h in queue if h["session_id"] == sid)["agent_sub"] == "boss"


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [
        ("POST", "/sessions/nosuchsession/accept", None, 404),
        ("POST", "/sessions/bad%20id/accept", None, 422),
        ("POST", "/sessions/abc/messages", {"text": ""}, 422),
        ("POST", "/sessions/abc/messages", {"text": "x" * 2001}, 422),
        ("POST", "/sessions/abc/messages", {"text": "hi", "extra": 1}, 422),
        ("GET", "/sessions?limit=0", None, 422),
    ],
)
async def test_bad_requests_are_refused_plainly(
    gateway: ServerThread,
    token_service: TokenService,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    expected: int,
) -> None:
    response = await console(gateway, method, path, staff_token(token_service), json=body)
    assert response.status_code == expected, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_console_needs_a_staff_token(
    gateway: ServerThread, token_service: TokenService
) -> None:
    assert (await console(gateway, "GET", "/handoffs", None)).status_code == 401
    assert (await console(gateway, "GET", "/handoffs", "not-a-jwt")).status_code == 401
    customer = customer_token(token_service, "cust-x")
    assert (await console(gateway, "GET", "/handoffs", customer)).status_code == 403
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        page = await http.get("/console")
    assert page.status_code == 200 and "Support console" in page.text
    assert "script-src" not in page.headers["content-security-policy"]  # self only
