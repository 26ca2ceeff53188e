"""Erasing a conversation's tracker (the staff console's customer erasure), against the
real Redis tracker store this stack uses and the in-memory one: the events are gone.
Also why ``PUT .../tracker/events`` with ``[]`` would not do: saving an empty tracker
over a Redis-stored one keeps every old event."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import redis
from rasa.core.lock_store import InMemoryLockStore
from rasa.core.tracker_store import InMemoryTrackerStore, RedisTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Sanic

from bot.channels import GatewayRestInput, auth_token
from bot.erasure import erase_tracker


@pytest.fixture
def redis_store() -> Iterator[RedisTrackerStore]:
    prefix = f"gwtest{uuid.uuid4().hex[:10]}"
    store = RedisTrackerStore(Domain.empty(), host="127.0.0.1", port=6379, db=0, key_prefix=prefix)
    yield store
    client = redis.Redis()
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)


def conversation(sender: str) -> DialogueStateTracker:
    return DialogueStateTracker.from_events(
        sender,
        [
            ActionExecuted("action_listen"),
            UserUttered("my card number is [card •••• 1111]", {"name": "card_lost"}),
            ActionExecuted("utter_card_lost"),
        ],
    )


async def test_saving_an_empty_tracker_keeps_a_redis_stored_conversation(
    redis_store: RedisTrackerStore,
) -> None:
    await redis_store.save(conversation("s1"))
    await redis_store.save(DialogueStateTracker.from_events("s1", []))  # what PUT [] does
    kept = await redis_store.retrieve("s1")
    assert kept is not None and len(kept.events) == 3


@pytest.mark.parametrize("kind", ["redis", "memory"])
async def test_an_erased_conversation_is_gone(kind: str, redis_store: RedisTrackerStore) -> None:
    store: TrackerStore = redis_store if kind == "redis" else InMemoryTrackerStore(Domain.empty())
    await store.save(conversation("s1"))
    await store.save(conversation("s2"))
    assert erase_tracker(store, "s1") is True
    assert await store.retrieve("s1") is None
    other = await store.retrieve("s2")  # nobody else's
    assert other is not None and len(other.events) == 3


async def test_the_gateway_channel_erases_only_for_the_gateway() -> None:
    # The route on the REST channel, served by Sanic like Rasa serves it: without the
    # stack's X-Rasa-Token it is refused, with it the tracker is gone.
    app = Sanic(f"erasure{uuid.uuid4().hex[:8]}")

    async def on_new_message(_: Any) -> None:
        return None

    app.blueprint(GatewayRestInput().blueprint(on_new_message), url_prefix="/webhooks/rest")
    store = InMemoryTrackerStore(Domain.empty())
    await store.save(conversation("s1"))
    app.ctx.agent = SimpleNamespace(lock_store=InMemoryLockStore(), tracker_store=store)
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
            refused = await http.delete("/webhooks/rest/conversations/s1")
            assert refused.status_code == 401
            assert await store.retrieve("s1") is not None
            erased = await http.delete(
                "/webhooks/rest/conversations/s1", headers={"X-Rasa-Token": auth_token()}
            )
            assert erased.status_code == 200, erased.text
    finally:
        server.close()
        await server.wait_closed()
    assert await store.retrieve("s1") is None
