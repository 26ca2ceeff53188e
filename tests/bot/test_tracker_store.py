"""``bot.tracker_store.ConfirmedRedisTrackerStore`` against the real Redis and RabbitMQ:
when ``save`` returns, every new event of the tracker is in the durable queue, in the
tracker's order, once, and the tracker is in Redis. (Rasa's stock store returns with the
events still in background tasks: a Rasa killed then takes them with it.)"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aio_pika
import pytest
import redis
from rasa.core.brokers.pika import PikaEventBroker
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.tracker_store import ConfirmedRedisTrackerStore

TURNS = 12


@pytest.fixture
async def broker() -> AsyncIterator[PikaEventBroker]:
    name = f"tracker-store-test-{uuid.uuid4().hex[:10]}"
    config = EndpointConfig(
        url="127.0.0.1",
        port=5672,
        username="guest",
        password="guest",
        exchange_name=name,
        queues=[name],
    )
    event_broker = await PikaEventBroker.from_endpoint_config(config)
    assert event_broker is not None
    yield event_broker
    await event_broker.close()
    connection = await aio_pika.connect(host="127.0.0.1", port=5672)
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(name)
        await channel.exchange_delete(name)


@pytest.fixture
def key_prefix() -> Iterator[str]:
    prefix = f"tstest{uuid.uuid4().hex[:10]}"
    yield prefix
    client = redis.Redis()
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)


def conversation(sender: str, turns: int) -> DialogueStateTracker:
    events: list[Any] = []
    for n in range(turns):
        events += [
            ActionExecuted("action_listen"),
            UserUttered(f"message {n}", {"name": "check_balance"}, metadata={"n": n}),
            ActionExecuted("utter_balance"),
            BotUttered(f"reply {n}"),
        ]
    return DialogueStateTracker.from_events(sender, events)


async def queued(queue_name: str) -> tuple[int, list[dict[str, Any]]]:
    """How many messages the queue held when asked, and their bodies in queue order."""
    connection = await aio_pika.connect(host="127.0.0.1", port=5672)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, passive=True)
        count = queue.declaration_result.message_count or 0
        bodies = []
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            bodies.append(json.loads(message.body))
        return count, bodies


async def test_save_returns_once_every_event_is_queued_in_order(
    broker: PikaEventBroker, key_prefix: str
) -> None:
    store = ConfirmedRedisTrackerStore(
        Domain.empty(), host="127.0.0.1", port=6379, key_prefix=key_prefix, event_broker=broker
    )
    tracker = conversation("s1", TURNS)
    await store.save(tracker)
    count, bodies = await queued(broker.queues[0])

    assert count == len(tracker.events) == 4 * TURNS
    assert [b["event"] for b in bodies] == [e.type_name for e in tracker.events]
    users = [b for b in bodies if b["event"] == "user"]
    assert [u["metadata"]["n"] for u in users] == list(range(TURNS))
    assert {b["sender_id"] for b in bodies} == {"s1"}
    stored = await store.retrieve("s1")
    assert stored is not None and len(stored.events) == len(tracker.events)


async def test_a_second_save_queues_only_the_new_events(
    broker: PikaEventBroker, key_prefix: str
) -> None:
    store = ConfirmedRedisTrackerStore(
        Domain.empty(), host="127.0.0.1", port=6379, key_prefix=key_prefix, event_broker=broker
    )
    await store.save(conversation("s2", 2))
    await store.save(conversation("s2", 5))  # three turns more
    count, bodies = await queued(broker.queues[0])

    assert count == 4 * 5
    users = [b for b in bodies if b["event"] == "user"]
    assert [u["metadata"]["n"] for u in users] == [0, 1, 2, 3, 4]
