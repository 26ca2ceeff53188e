"""The console's review API as a support shift uses it, over real HTTP and sockets,
real Redis and the real transcript database (SQLite, the default, and PostgreSQL):
customers chat and rate, an agent searches, reads, tags, notes, labels and marks
reviewed, a supervisor exports, pulls training data, reads the audit log and erases a
customer. Plus the refusals (401/403/404/422) and the feedback/rating frames' checks."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest
import redis
import yaml
from redis.asyncio import Redis
from sqlalchemy import create_engine, text

from gateway.auth.tokens import TokenService
from gateway.chat.store import ChatStore
from gateway.console.review.schemas import SessionFilters
from gateway.console.review.service import ReviewService
from gateway.settings import Settings
from gateway.transcripts.schema import TranscriptSchema
from gateway.transcripts.writer import make_engine
from tests.gateway.conftest import ServerThread, StubRasa, gateway_server
from tests.gateway.test_console import bearer, staff_token
from tests.gateway.test_ws import closed_with, hello, recv, send, socket, turn

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def review_gateway(
    request: pytest.FixtureRequest,
    make_settings: Callable[..., Settings],
    redis_prefix: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServerThread]:
    """A gateway with a transcript database of its own (and its own key prefix, so only
    its writer consumes its stream): counts and searches see this module's chats only."""
    name = f"gwreview_{uuid.uuid4().hex[:10]}"
    admin = None
    if request.param == "postgresql":
        try:
            admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
        except psycopg.OperationalError:
            pytest.skip("PostgreSQL not reachable")
        admin.execute(f'CREATE DATABASE "{name}"')
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    else:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('review')}/t.sqlite3"
    settings = make_settings(transcript_database_url=url, redis_key_prefix=f"{redis_prefix}{name}:")
    try:
        with gateway_server(settings) as server:
            server.transcript_url = url  # type: ignore[attr-defined]
            yield server
    finally:
        if admin is not None:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            admin.close()


async def api(
    gateway: ServerThread, method: str, path: str, token: str | None, **kw: Any
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        return await http.request(
            method, f"/console/api{path}", headers=bearer(token) if token else {}, **kw
        )


async def ok(gateway: ServerThread, method: str, path: str, token: str, **kw: Any) -> Any:
    response = await api(gateway, method, path, token, **kw)
    assert response.status_code in (200, 201), response.text
    return response.json()


async def recorded(
    gateway: ServerThread,
    token: str,
    customer: str,
    turns: int,
) -> list[dict[str, Any]]:
    """The customer's sessions once ``turns`` customer turns are written (the writer
    works in the background: poll, never time it)."""
    for _ in range(200):
        page = await ok(gateway, "GET", "/sessions", token, params={"customer": customer})
        if sum(s["turns"] for s in page["data"]) >= turns:
            return list(page["data"])
        await asyncio.sleep(0.05)
    pytest.fail(f"{customer}'s {turns} turns were never recorded")


async def sessions(gateway: ServerThread, token: str, **params: Any) -> list[str]:
    page = await ok(gateway, "GET", "/sessions", token, params=params)
    return [s["session_id"] for s in page["data"]]


def rasa_events(gateway: ServerThread, session_id: str) -> int:
    """Rows the broker consumer stored for the session (read in the database)."""
    url: str = gateway.transcript_url  # type: ignore[attr-defined]
    engine = create_engine(url.replace("+aiosqlite", ""))
    try:
        with engine.connect() as conn:
            query = text("SELECT count(*) FROM rasa_events WHERE session_id = :s")
            return int(conn.execute(query, {"s": session_id}).scalar_one())
    finally:
        engine.dispose()


def customer(tokens: TokenService, sub: str, username: str, name: str) -> str:
    return tokens.issue(subject=sub, username=username, display_name=name, roles=["customer"])


async def test_a_support_shift(
    review_gateway: ServerThread,
    token_service: TokenService,
    stub_rasa: StubRasa,
    redis_client: redis.Redis,
    redis_prefix: str,
) -> None:
    gw = review_gateway
    agent = staff_token(token_service, "agent1", "agent", "Alex Agent")
    boss = staff_token(token_service, "supervisor1", "supervisor", "Sam Supervisor")
    demo005 = customer(token_service, "cust-005", "demo005", "Demo Five")
    demo006 = customer(token_service, "cust-006", "demo006", "Demo Six")

    # --- customers chat ------------------------------------------------------------
    async with socket(gw) as ws:
        sid5 = (await hello(ws, token=demo005))["session_id"]
        await turn(ws, "balance of my card 4111 1111 1111 1111", "m1")
        lost = next(f for f in await turn(ws, "mumble grumble", "m2") if f["type"] == "bot")
        await send(ws, {"type": "feedback", "seq": lost["seq"], "value": "up"})
        await send(
            ws,
            {
                "type": "feedback",
                "seq": lost["seq"],
                "value": "down",
                "comment": "useless, my card is 4111 1111 1111 1111",
            },
        )  # replaces
        await send(ws, {"type": "rating", "score": 2, "comment": "did not help"})
        await turn(ws, "handoff please", "m3")
    async with socket(gw) as ws:
        sid6 = (await hello(ws, token=demo006))["session_id"]
        await turn(ws, "hello there", "n1")
        await turn(ws, "balance please", "n2")
        await send(ws, {"type": "rating", "score": 5})
    async with socket(gw) as ws:
        guest = (await hello(ws))["session_id"]
        await turn(ws, "balance", "g1")

    # --- the agent's shift -----------------------------------------------------------
    found = await recorded(gw, agent, "demo005", 3)
    await recorded(gw, agent, "demo006", 2)
    # The turns' NLU comes from Rasa's events (the event broker), maybe after the rows.
    for _ in range(200):
        balance = set(await sessions(gw, agent, intent="intent_balance"))
        if balance == {sid5, sid6, guest} and await sessions(gw, agent, intent="intent_hello"):
            break
        await asyncio.sleep(0.05)
    assert [s["session_id"] for s in found] == [sid5]
    row = found[0]
    assert (row["customer_id"], row["customer_username"], row["customer_name"]) == (
        "cust-005",
        "demo005",
        "Demo Five",
    )
    assert row["turns"] == 3 and row["tags"] == [] and row["reviewed"] is False
    assert row["started_at"] <= row["last_at"]
    # The feedback and rating travel through the transcript stream behind the turns.
    for _ in range(200):
        row = (await recorded(gw, agent, "demo005", 3))[0]
        if row["rating"] is not None and "negative_feedback" in row["flags"]:
            break
        await asyncio.sleep(0.05)
    assert row["rating"] == 2
    assert row["flags"] == ["fallback", "low_confidence", "handoff", "negative_feedback"]

    # Search: by display name (any case) and by id too; words; filters combine.
    assert await sessions(gw, agent, customer="demo five") == [sid5]
    assert await sessions(gw, agent, customer="cust-005") == [sid5]
    assert set(await sessions(gw, agent, q="balance")) == {sid5, sid6, guest}
    assert await sessions(gw, agent, q="balance", customer="demo006") == [sid6]
    assert await sessions(gw, agent, q="BALANCE card") == [sid5]  # every word, any case
    assert await sessions(gw, agent, q="grumble") == [sid5]
    assert await sessions(gw, agent, q="you said: hello") == [sid6]  # the bot's words
    assert await sessions(gw, agent, q="4111") == []  # only the masked text is kept
    assert await sessions(gw, agent, q="100%") == []  # wildcards are plain characters
    assert await sessions(gw, agent, flag="fallback") == [sid5]
    assert await sessions(gw, agent, flag="negative_feedback") == [sid5]
    assert await sessions(gw, agent, flag="handoff", customer="demo006") == []
    assert await sessions(gw, agent, intent="intent_hello") == [sid6]
    today = datetime.now(UTC).date().isoformat()
    assert set(await sessions(gw, agent, **{"from": today, "to": today})) == {sid5, sid6, guest}
    assert await sessions(gw, agent, to="2001-01-01") == []
    assert (await sessions(gw, agent))[0] == guest  # newest first

    # Open the transcript: every turn, oldest first, masked, with NLU and feedback.
    transcript = await ok(gw, "GET", f"/sessions/{sid5}/transcript", agent)
    turns = transcript["data"]
    assert [t["user_text"] for t in turns] == [
        "balance of my card [card •••• 1111]",
        "mumble grumble",
        "handoff please",
    ]
    assert turns[0]["turn_id"] < turns[1]["turn_id"] < turns[2]["turn_id"]
    assert [r["text"] for r in turns[1]["replies"]] == ["you said: mumble grumble"]
    assert (turns[1]["intent"], turns[1]["confidence"], turns[1]["fallback"]) == (
        "nlu_fallback",
        0.3,
        True,
    )
    assert [(f["seq"], f["value"], f["comment"]) for f in turns[1]["feedback"]] == [
        (lost["seq"], "down", "useless, my card is [card •••• 1111]")
    ]
    assert turns[0]["feedback"] == [] and turns[1]["label"] is None
    assert transcript["rating"]["score"] == 2
    assert transcript["rating"]["comment"] == "did not help"
    assert transcript["customer_username"] == "demo005"

    # Tag, untag, note, label, mark reviewed.
    assert (await ok(gw, "POST", f"/sessions/{sid5}/tags", agent, json={"tag": "card-issue"}))[
        "tags"
    ] == ["card-issue"]
    assert (await ok(gw, "POST", f"/sessions/{sid5}/tags", agent, json={"tag": "bot-miss"}))[
        "tags"
    ] == ["bot-miss", "card-issue"]
    assert (await ok(gw, "DELETE", f"/sessions/{sid5}/tags/bot-miss", agent))["tags"] == [
        "card-issue"
    ]
    assert await sessions(gw, agent, tag="card-issue") == [sid5]
    note = await ok(
        gw,
        "POST",
        f"/sessions/{sid5}/notes",
        agent,
        json={"text": "Customer wanted the balance of their card account."},
    )
    assert (note["staff"], note["session_id"]) == ("agent1", sid5)
    label = await ok(
        gw, "POST", f"/turns/{turns[1]['turn_id']}/label", agent, json={"intent": "check_balance"}
    )
    assert label == {"turn_id": turns[1]["turn_id"], "intent": "check_balance"}
    await ok(
        gw,
        "POST",
        f"/turns/{turns[0]['turn_id']}/label",
        agent,
        json={"intent": "faq/card_balance"},
    )
    await ok(
        gw, "POST", f"/turns/{turns[0]['turn_id']}/label", agent, json={"intent": "check_balance"}
    )  # a later label replaces it
    assert (await ok(gw, "POST", f"/sessions/{sid5}/review", agent, json={"reviewed": True})) == {
        "session_id": sid5,
        "reviewed": True,
    }
    assert await sessions(gw, agent, reviewed="true") == [sid5]
    assert sid5 not in await sessions(gw, agent, reviewed="false")
    again = await ok(gw, "GET", f"/sessions/{sid5}/transcript", agent)
    assert again["tags"] == ["card-issue"] and again["reviewed"] is True
    assert [n["text"] for n in again["notes"]] == [note["text"]]
    assert [t["label"] for t in again["data"]] == ["check_balance", "check_balance", None]

    # An agent may not export, pull training data, read the audit log or erase.
    for method, path in [
        ("GET", "/export"),
        ("GET", "/training-data"),
        ("GET", "/audit"),
        ("DELETE", "/customers/demo005/conversations"),
    ]:
        refused = await api(gw, method, path, agent)
        assert refused.status_code == 403, path
        assert refused.headers["content-type"] == "application/problem+json"

    # --- the supervisor ----------------------------------------------------------------
    jsonl = await api(gw, "GET", "/export", boss, params={"format": "jsonl", "customer": "demo005"})
    assert jsonl.status_code == 200 and "ndjson" in jsonl.headers["content-type"]
    lines = [json.loads(line) for line in jsonl.text.splitlines()]
    assert [(r["session_id"], r["user_text"], r["label"]) for r in lines] == [
        (sid5, "balance of my card [card •••• 1111]", "check_balance"),
        (sid5, "mumble grumble", "check_balance"),
        (sid5, "handoff please", None),
    ]
    assert lines[1]["feedback"] == ["down"] and lines[1]["customer_username"] == "demo005"
    exported = await api(gw, "GET", "/export", boss, params={"format": "csv", "q": "balance"})
    table = list(csv.DictReader(io.StringIO(exported.text)))
    assert exported.headers["content-type"].startswith("text/csv")
    assert {r["session_id"] for r in table} == {sid5, sid6, guest}
    assert len(table) == 3 + 2 + 1  # one row per turn of the matching conversations

    nlu = await api(gw, "GET", "/training-data", boss, params={"customer": "demo005"})
    assert nlu.status_code == 200
    assert yaml.safe_load(nlu.text) == {
        "version": "3.1",
        "nlu": [
            {
                "intent": "check_balance",
                "examples": "- balance of my card [card •••• 1111]\n- mumble grumble\n",
            }
        ],
    }
    assert yaml.safe_load(
        (await api(gw, "GET", "/training-data", boss, params={"customer": "demo006"})).text
    ) == {"version": "3.1", "nlu": []}

    stats = await ok(gw, "GET", "/stats", boss, params={"from": today, "to": today})
    assert (stats["conversations"], stats["turns"], stats["handoffs"]) == (3, 6, 1)
    assert stats["fallback_rate"] == round(1 / 6, 4)
    assert stats["feedback"] == {"up": 0, "down": 1}
    assert stats["ratings"] == {"count": 2, "mean": 3.5}
    assert stats["top_intents"][0] == {"intent": "intent_balance", "count": 3}
    assert stats["by_day"] == [{"date": today, "conversations": 3, "turns": 6}]
    empty = await ok(gw, "GET", "/stats", agent, params={"to": "2001-01-01"})
    assert (empty["conversations"], empty["fallback_rate"], empty["ratings"]["mean"]) == (
        0,
        0.0,
        None,
    )

    audit = (await ok(gw, "GET", "/audit", boss))["data"]
    actions = [(a["staff"], a["action"]) for a in audit]
    assert actions[:5] == [
        ("supervisor1", "training_data"),
        ("supervisor1", "training_data"),
        ("supervisor1", "export"),
        ("supervisor1", "export"),
        ("agent1", "transcript.view"),
    ]
    assert actions.count(("agent1", "label")) == 3
    assert ("agent1", "transcript.view") in actions[5:]
    assert any(a["target"] == sid5 for a in audit)

    # The customer asks to be forgotten, with the chat still open in a tab.
    async with socket(gw) as tab:
        await hello(tab, token=demo005, session_id=sid5, last_seq=999)
        erased = await ok(gw, "DELETE", "/customers/demo005/conversations", boss)
        assert erased == {"erased_sessions": 1}
        closing = await recv(tab)
        assert (closing["type"], closing["code"]) == ("error", "forbidden")
        assert await closed_with(tab) == 4403
    assert sid5 in stub_rasa.erased
    # Rasa's events the broker consumer stored for it are gone; nobody else's.
    assert rasa_events(gw, sid5) == 0 and rasa_events(gw, sid6) > 0
    log = (await ok(gw, "GET", "/audit", boss))["data"]
    assert (log[0]["staff"], log[0]["action"], log[0]["target"]) == (
        "supervisor1",
        "erasure",
        "[erased]",
    )  # that it happened, not whose
    assert not any(sid5 in a["target"] or "demo005" in a["target"] for a in log)
    assert len(log) == len(audit) + 1  # earlier entries stay, their target blanked
    assert await sessions(gw, agent, customer="demo005") == []
    assert await sessions(gw, agent, q="grumble") == []
    assert (await ok(gw, "GET", f"/sessions/{sid5}/transcript", agent))["data"] == []
    assert await sessions(gw, agent, customer="demo006") == [sid6]  # nobody else's
    assert not list(redis_client.scan_iter(match=f"{redis_prefix}*chat:{sid5}*", count=1000))
    async with socket(gw) as ws:  # the old session is gone: resuming starts afresh
        welcome = await hello(ws, token=demo005, session_id=sid5, last_seq=0)
        assert welcome["resumed"] is False and welcome["session_id"] != sid5
    # Nothing recorded names demo005 any more; by id, the fresh session (live in Redis
    # only, no turn yet) is found and erased too.
    assert (await ok(gw, "DELETE", "/customers/demo005/conversations", boss)) == {
        "erased_sessions": 0
    }
    assert (await ok(gw, "DELETE", "/customers/cust-005/conversations", boss)) == {
        "erased_sessions": 1
    }
    assert not list(
        redis_client.scan_iter(match=f"{redis_prefix}*chat:{welcome['session_id']}*", count=1000)
    )


async def test_the_session_list_pages_with_a_cursor(
    review_gateway: ServerThread, token_service: TokenService
) -> None:
    agent = staff_token(token_service)
    token = customer(token_service, "cust-pager", "pager", "Page Turner")
    opened = []
    for i in range(3):
        async with socket(review_gateway) as ws:
            opened.append((await hello(ws, token=token))["session_id"])
            await turn(ws, f"page {i}")
    await recorded(review_gateway, agent, "pager", 3)
    first = await ok(
        review_gateway, "GET", "/sessions", agent, params={"customer": "pager", "limit": 2}
    )
    assert [s["session_id"] for s in first["data"]] == opened[:0:-1]
    second = await ok(
        review_gateway,
        "GET",
        "/sessions",
        agent,
        params={"customer": "pager", "limit": 2, "cursor": first["next_cursor"]},
    )
    assert [s["session_id"] for s in second["data"]] == [opened[0]]
    assert second["next_cursor"] is None
    bad = await api(review_gateway, "GET", "/sessions", agent, params={"cursor": "nonsense"})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [
        ("POST", "/sessions/nosuchsession/tags", {"tag": "x"}, 404),
        ("POST", "/sessions/nosuchsession/notes", {"text": "x"}, 404),
        ("POST", "/sessions/nosuchsession/review", {"reviewed": True}, 404),
        ("POST", "/turns/999999/label", {"intent": "greet"}, 404),
        ("POST", "/turns/1/label", {"intent": "two words"}, 422),
        ("POST", "/sessions/abc/tags", {"tag": "Not A Tag!"}, 422),
        ("POST", "/sessions/abc/notes", {"text": ""}, 422),
        ("POST", "/sessions/abc/review", {"reviewed": "yes"}, 422),
        ("GET", "/sessions?flag=angry", None, 422),
        ("GET", "/sessions?from=yesterday", None, 422),
        ("GET", "/sessions?from=2026-02-02&to=2026-01-01", None, 422),
        ("GET", "/stats?from=2026-02-02&to=2026-01-01", None, 422),
    ],
)
async def test_bad_requests_get_problems(
    review_gateway: ServerThread,
    token_service: TokenService,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    expected: int,
) -> None:
    response = await api(review_gateway, method, path, staff_token(token_service), json=body)
    assert response.status_code == expected, response.text
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/sessions"),
        ("GET", "/sessions/abc/transcript"),
        ("GET", "/stats"),
        ("POST", "/sessions/abc/tags"),
        ("POST", "/turns/1/label"),
        ("GET", "/export"),
        ("GET", "/training-data"),
        ("GET", "/audit"),
        ("DELETE", "/customers/demo005/conversations"),
    ],
)
async def test_only_staff_with_the_right_role_get_in(
    review_gateway: ServerThread, token_service: TokenService, method: str, path: str
) -> None:
    no_token = await api(review_gateway, method, path, None)
    assert no_token.status_code == 401
    assert no_token.headers["content-type"] == "application/problem+json"
    as_customer = await api(
        review_gateway, method, path, customer(token_service, "cust-nosy", "nosy", "Nosy")
    )
    assert as_customer.status_code == 403


async def test_feedback_and_rating_frames_are_checked(
    review_gateway: ServerThread, token_service: TokenService
) -> None:
    async with socket(review_gateway) as ws:
        await hello(ws)
        got = await turn(ws, "hi", "f1")
        ack = next(f for f in got if f["type"] == "ack")
        bot = next(f for f in got if f["type"] == "bot")
        for bad in [
            {"type": "feedback", "seq": ack["seq"], "value": "up"},  # not a bot frame
            {"type": "feedback", "seq": 999, "value": "up"},
            {"type": "feedback", "seq": bot["seq"], "value": "meh"},
            {"type": "feedback", "seq": "2", "value": "up"},
            {"type": "feedback", "value": "up"},
            {"type": "feedback", "seq": bot["seq"], "value": "up", "comment": "x" * 501},
            {"type": "rating", "score": 0},
            {"type": "rating", "score": 6},
            {"type": "rating", "score": 4.5},
            {"type": "rating", "score": "5"},
            {"type": "rating", "score": 5, "comment": "x" * 1001},
        ]:
            await send(ws, bad)
            error = await recv(ws)
            assert (error["type"], error["code"]) == ("error", "bad_request"), bad
        # Within the limits all is well, and the socket stayed open throughout.
        await send(ws, {"type": "feedback", "seq": bot["seq"], "value": "up", "comment": "x" * 500})
        await send(ws, {"type": "rating", "score": 5, "comment": "x" * 1000})
        await send(ws, {"type": "ping"})
        assert await recv(ws) == {"type": "pong"}


async def test_resume_shows_the_customers_own_masked_turns(
    review_gateway: ServerThread, token_service: TokenService
) -> None:
    token = customer(token_service, "cust-resume", "resumer", "Re Sumer")
    async with socket(review_gateway) as ws:
        sid = (await hello(ws, token=token))["session_id"]
        await turn(ws, "cvv?", "u1")
        await turn(ws, "123", "u2")  # a bare CVV after the bot asked for one
        await send(ws, {"type": "message", "client_msg_id": "u3", "payload": "/affirm"})
        await recv(ws)  # its ack; the reply may come after the socket closed
    async with socket(review_gateway) as ws:
        await hello(ws, token=token, session_id=sid, last_seq=0)
        replay = [await recv(ws) for _ in range(6)]
    assert [(f["type"], f["seq"]) for f in replay] == [
        ("user", 1),
        ("bot", 2),
        ("user", 3),
        ("bot", 4),
        ("user", 5),
        ("bot", 6),
    ]
    assert [f["text"] for f in replay if f["type"] == "user"] == ["cvv?", "[redacted]", "/affirm"]
    assert [f["client_msg_id"] for f in replay if f["type"] == "user"] == ["u1", "u2", "u3"]


async def test_an_erasure_rasa_cannot_confirm_is_refused_and_can_be_asked_again(
    broken_gateway: ServerThread,
    token_service: TokenService,
    redis_client: redis.Redis,
    redis_prefix: str,
) -> None:
    # Rasa is down: its tracker cannot be emptied, so nothing is deleted and the
    # supervisor is told to ask again (every step is idempotent).
    token = customer(token_service, "cust-keep", "keeper", "Kee Per")
    async with socket(broken_gateway) as ws:
        sid = (await hello(ws, token=token))["session_id"]
    boss = staff_token(token_service, "supervisor1", "supervisor", "Sam Supervisor")
    refused = await api(broken_gateway, "DELETE", "/customers/cust-keep/conversations", boss)
    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert "ask for it again" in refused.json()["title"]
    assert redis_client.exists(f"{redis_prefix}broken:chat:{sid}")


async def test_the_console_answers_before_the_writer_has_prepared_the_database(
    tmp_path: Any, redis_prefix: str
) -> None:
    # A console request can come before the transcript writer's background start-up:
    # the tables are then created by the request, not answered with 503.
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/fresh.sqlite3")
    client = Redis.from_url("redis://127.0.0.1:6379/0")
    store = ChatStore(client, key_prefix=f"{redis_prefix}fresh:", retention=10, ttl_seconds=60)
    review = ReviewService(schema=TranscriptSchema(engine), store=store, low_confidence=0.5)
    try:
        page = await review.sessions(SessionFilters(), 10, None)
    finally:
        await engine.dispose()
        await client.aclose()
    assert (page.data, page.next_cursor) == ([], None)
