"""`make run-scaled` (issue 16): two gateways, two Rasa servers and two action servers
behind HAProxy, sharing Redis and PostgreSQL. A conversation may move between the Rasa
servers turn by turn; with one of them killed and not started again, the customer's
"yes" still completes exactly the transfer that the dead one summarised."""

import asyncio
import json
import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from scripts.ports import free_port
from scripts.stack import Stack
from tests.e2e.conftest import stack_env, started, trained_model
from tests.e2e.test_balance import ask, bot_text
from tests.e2e.test_supervision import until_answered
from tests.support import delete_broker_objects, fresh_postgres_database

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def scaled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with fresh_postgres_database("scaled") as database_url:
        env = stack_env(
            database_url,
            tmp_path_factory.mktemp("scaled-keys"),
            STACK_REPLICAS="2",
            LB_PORT=str(free_port()),
            RASA_LB_PORT=str(free_port()),
            ACTIONS_LB_PORT=str(free_port()),
            LB_MONITOR_PORT=str(free_port()),
        )
        # Replicas take the next ports: keep those free too.
        env["RASA_PORT"], env["ACTION_SERVER_PORT"] = str(free_port()), str(free_port())
        log_dir = Path(tmp_path_factory.mktemp("scaled-logs"))
        stack = Stack(trained_model(), env=env, log_dir=log_dir)
        stack.prepare_database(seed_customers=2)
        try:
            yield started(stack, log_dir)
        finally:
            stack.stop()
            asyncio.run(delete_broker_objects(stack.env))


def test_every_tier_has_two_instances_behind_haproxy(scaled: Stack) -> None:
    names = {s.name for s in scaled.services}
    assert {"gateway", "gateway-2", "rasa", "rasa-2", "actions", "actions-2", "haproxy"} <= names
    config = (scaled.log_dir / "haproxy.cfg").read_text()
    for name in ("gateway", "rasa", "actions"):
        assert config.count(f"server {name}") == 2, config


async def test_one_rasa_killed_the_other_completes_the_transfer(scaled: Stack) -> None:
    balancer = scaled.urls["balancer"]
    async with httpx.AsyncClient(base_url=balancer) as http:
        token = (
            await http.post(
                "/auth/token", data={"username": "demo001", "password": "demo-password"}
            )
        ).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        core = httpx.AsyncClient(base_url=scaled.urls["core_banking"], headers=headers)
        before = {
            a["type"]: a["balance_minor"] for a in (await core.get("/v1/accounts")).json()["data"]
        }
    async with connect(balancer.replace("http", "ws") + "/ws") as ws:
        await ws.send(json.dumps({"type": "hello", "token": token["access_token"]}))
        assert json.loads(await ws.recv())["type"] == "welcome"
        # Several turns: round robin sends them to both Rasa servers in turn.
        assert "EUR" in bot_text(await ask(ws, "what's my balance?"))
        summary = bot_text(await ask(ws, "send 31 euros to my savings account"))
        assert "31.00 EUR" in summary, summary
        rasa = next(s for s in scaled.services if s.name == "rasa")
        assert rasa.process is not None
        os.killpg(rasa.process.pid, signal.SIGKILL)  # and nobody starts it again
        rasa.process.wait()
        cmid = uuid.uuid4().hex
        await ws.send(json.dumps({"type": "message", "client_msg_id": cmid, "payload": "/affirm"}))
        frames = await until_answered(ws, cmid)
        # The surviving server goes on with the same conversation.
        assert "EUR" in bot_text(await ask(ws, "and what's my balance now?"))
    after = {a["type"]: a["balance_minor"] for a in (await core.get("/v1/accounts")).json()["data"]}
    await core.aclose()
    assert (after["checking"], after["savings"]) == (
        before["checking"] - 3100,
        before["savings"] + 3100,
    ), bot_text(frames)
