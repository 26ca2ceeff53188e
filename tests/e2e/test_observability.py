"""One chat turn through the whole system is one trace: the four services' log files hold
JSON lines only, each service logs that turn with the same W3C trace_id, the spans link
gateway → action server → core_banking, and the audit row of the transfer carries it."""

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import psycopg
import pytest

from scripts.stack import Stack
from tests.e2e.test_assistant import press
from tests.e2e.test_balance import ask, bot_text, login, open_session

pytestmark = pytest.mark.e2e
SERVICES = ("gateway", "core_banking", "actions", "rasa")


def log_lines(stack: Stack, service: str) -> list[dict[str, Any]]:
    text = (stack.log_dir / f"{service}.log").read_text(errors="replace")
    return [json.loads(line) for line in text.splitlines()]


async def lines_with(stack: Stack, trace_id: str) -> dict[str, list[dict[str, Any]]]:
    """Each service's lines of that trace, once every service has some (the log pump and
    the gateway's own line after the reply may lag a little behind the reply)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for _ in range(120):
        found = {
            s: [x for x in log_lines(stack, s) if x.get("trace_id") == trace_id] for s in SERVICES
        }
        if all(found.values()) and any(x.get("span") == "chat turn" for x in found["gateway"]):
            break
        await asyncio.sleep(0.5)
    return found


async def test_a_chat_transfer_is_one_trace_in_every_service_and_the_audit_row(
    stack: Stack, database_url: str
) -> None:
    ws, _ = await open_session(stack, await login(stack, "demo003"))
    async with ws:
        summary = bot_text(await ask(ws, "send 7 euros to my savings account"))
        assert "7.00 EUR" in summary, summary
        done = bot_text(await press(ws, "/affirm"))
    assert "7.00 EUR sent" in done, done

    dsn = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        detail = conn.execute(
            "SELECT detail FROM audit_log WHERE action LIKE 'transfer%%' AND amount_minor = 700 "
            "ORDER BY created_at DESC LIMIT 1"
        ).fetchone()
    assert detail is not None
    match = re.search(r"trace_id=([0-9a-f]{32})$", detail[0])
    assert match, detail
    trace_id = match.group(1)

    found = await lines_with(stack, trace_id)
    assert all(found.values()), {s: len(lines) for s, lines in found.items()}
    # The spans (OTEL_TRACES_EXPORTER=log in the e2e stack) chain across the services:
    # the gateway's turn → the action Rasa asked for → core_banking's POST /v1/transfers.
    [turn] = [x for x in found["gateway"] if x.get("span") == "chat turn"]
    actions = [x for x in found["actions"] if x.get("span", "").startswith("action ")]
    assert actions and all(a["parent_span_id"] == turn["span_id"] for a in actions), actions
    posted = [x for x in found["core_banking"] if x.get("span") == "POST /v1/transfers"]
    assert len(posted) == 1, found["core_banking"]
    assert posted[0]["parent_span_id"] in {a["span_id"] for a in actions}
    assert {x["parent_span_id"] for x in found["rasa"]} == {turn["span_id"]}
    Path(stack.log_dir / "trace-example.json").write_text(
        json.dumps({"trace_id": trace_id, "turn": turn, "actions": actions, "core_banking": posted})
    )


async def test_every_log_file_holds_json_lines_only(stack: Stack) -> None:
    ws, _ = await open_session(stack, None)
    async with ws:
        await ask(ws, "hello")
    for service in SERVICES:
        lines = log_lines(stack, service)  # raises on any line that is not JSON
        assert lines, service
        for line in lines:
            assert {"ts", "level", "service", "msg"} <= set(line), line
            assert line["service"] == service, line
