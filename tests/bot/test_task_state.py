"""The REST channel's task state route (``bot/task_state.py``), which the gateway reads
to hold a message's later requests while an earlier one waits for the customer: served
by Sanic as Rasa serves the channel, against the real Redis tracker store and the
in-memory one."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import redis
from rasa.core.lock_store import InMemoryLockStore
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.core.tracker_store import InMemoryTrackerStore, RedisTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Sanic

from bot.channels import GatewayRestInput, auth_token
from bot.task_state import task_state

DOMAIN = Domain.from_dict(
    {
        "forms": {"transfer_form": {"required_slots": ["transfer_confirmed"]}},
        "slots": {
            "transfer_confirmed": {
                "type": "bool",
                "influence_conversation": False,
                "mappings": [{"type": "custom"}],
            }
        },
    }
)


def at_the_summary(sender: str) -> DialogueStateTracker:
    return DialogueStateTracker.from_events(
        sender,
        [
            ActionExecuted("action_listen"),
            UserUttered("send 40 to savings", {"name": "transfer_money"}),
            ActiveLoop("transfer_form"),
            SlotSet("requested_slot", "transfer_confirmed"),
            ActionExecuted("transfer_form"),
            ActionExecuted("action_listen"),
        ],
        slots=DOMAIN.slots,
    )


def done(sender: str) -> DialogueStateTracker:
    tracker = at_the_summary(sender)
    tracker.update(ActiveLoop(None))
    tracker.update(SlotSet("requested_slot", None))
    return tracker


@pytest.fixture
def redis_store() -> Iterator[RedisTrackerStore]:
    prefix = f"gwtest{uuid.uuid4().hex[:10]}"
    store = RedisTrackerStore(DOMAIN, host="127.0.0.1", port=6379, db=0, key_prefix=prefix)
    yield store
    client = redis.Redis()
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)


@pytest.mark.parametrize("kind", ["redis", "memory"])
async def test_the_task_waiting_for_an_answer_and_none_once_it_is_over(
    kind: str, redis_store: RedisTrackerStore
) -> None:
    store: TrackerStore = redis_store if kind == "redis" else InMemoryTrackerStore(DOMAIN)
    await store.save(at_the_summary("s1"))
    await store.save(done("s2"))
    assert await task_state(store, "s1") == {"task": "transfer_form", "asks": "transfer_confirmed"}
    assert await task_state(store, "s2") == {"task": None, "asks": None}
    assert await task_state(store, "nobody") == {"task": None, "asks": None}
    assert await store.retrieve("nobody") is None  # reading it started no conversation


@pytest.fixture
async def channel() -> AsyncIterator[tuple[httpx.AsyncClient, InMemoryTrackerStore]]:
    app = Sanic(f"task{uuid.uuid4().hex[:8]}")

    async def on_new_message(_: Any) -> None:
        return None

    app.blueprint(GatewayRestInput().blueprint(on_new_message), url_prefix="/webhooks/rest")
    store = InMemoryTrackerStore(DOMAIN)
    # The bot's own words, from the domain file the model is trained with.
    nlg = TemplatedNaturalLanguageGenerator(Domain.load("bot/domain/core.yml").responses)
    app.ctx.agent = SimpleNamespace(lock_store=InMemoryLockStore(), tracker_store=store, nlg=nlg)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = await app.create_server(
        host="127.0.0.1", port=port, access_log=False, return_asyncio_server=True
    )
    assert server is not None
    await server.startup()
    await server.start_serving()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            yield http, store
    finally:
        server.close()
        await server.wait_closed()


async def test_the_channel_tells_only_the_gateway(
    channel: tuple[httpx.AsyncClient, InMemoryTrackerStore],
) -> None:
    http, store = channel
    await store.save(at_the_summary("s1"))
    refused = await http.get("/webhooks/rest/conversations/s1/task")
    assert refused.status_code == 401
    answered = await http.get(
        "/webhooks/rest/conversations/s1/task", headers={"X-Rasa-Token": auth_token()}
    )
    assert answered.status_code == 200, answered.text
    assert answered.json() == {"task": "transfer_form", "asks": "transfer_confirmed"}
    # The erasure route beside it (DELETE /conversations/{id}) still answers.
    erased = await http.delete(
        "/webhooks/rest/conversations/s1", headers={"X-Rasa-Token": auth_token()}
    )
    assert erased.status_code == 200, erased.text
    gone = await http.get(
        "/webhooks/rest/conversations/s1/task", headers={"X-Rasa-Token": auth_token()}
    )
    assert gone.json() == {"task": None, "asks": None}


async def test_held_requests_are_told_in_the_bots_words(
    channel: tuple[httpx.AsyncClient, InMemoryTrackerStore],
) -> None:
    http, _ = channel
    headers = {"X-Rasa-Token": auth_token()}
    url = "/webhooks/rest/conversations/s1/held"
    told = await http.post(
        url, json={"requests": ["send 20 to alpine energy", "what's my balance?"]}, headers=headers
    )
    assert told.status_code == 200, told.text
    assert told.json() == [
        {
            "recipient_id": "s1",
            "text": "Once this is done, I'll go on with: "
            "\u201csend 20 to alpine energy\u201d; \u201cwhat's my balance\u201d.",
        }
    ]
    assert (await http.post(url, json={"requests": []}, headers=headers)).json() == []
    assert (await http.post(url, json={"requests": ["x"]})).status_code == 401
