"""Rasa's Redis tracker store, with the turn's events confirmed by RabbitMQ before the
tracker is saved (``bot/endpoints.yml`` names it as the tracker store's ``type``).

Why: Rasa's stock stores hand each new event to the Pika broker fire-and-forget (a
background task per event), then save the tracker and answer. Under load those tasks
lag; a Rasa killed with SIGKILL took the events of turns it had already answered with
it (the chaos run, scripts/chaos.py, found turns whose transcript never got its NLU).
Here ``save`` awaits the publishes, and aio-pika's channel waits for RabbitMQ's
publisher confirm, so a tracker is stored, and the turn answered, only once its events
are in the durable queue. A Rasa killed before that saves nothing: the gateway retries
the turn and it is published then. At least once from Rasa, and the consumer stores
each event once (gateway/transcripts/broker.py).
"""

from __future__ import annotations

import asyncio

from rasa.core.brokers.broker import EventBroker
from rasa.core.brokers.pika import PikaEventBroker
from rasa.core.tracker_store import RedisTrackerStore
from rasa.shared.core.events import Event


class ConfirmedRedisTrackerStore(RedisTrackerStore):
    async def _stream_new_events(
        self, event_broker: EventBroker, new_events: list[Event], sender_id: str
    ) -> None:
        if not isinstance(event_broker, PikaEventBroker):
            await super()._stream_new_events(event_broker, new_events, sender_id)
            return
        bodies = [{"sender_id": sender_id, **event.as_dict()} for event in new_events]
        # All published at once, their confirms awaited together: one wait for RabbitMQ
        # (which confirms a persistent message once it is on disk) instead of one per
        # event. Order holds: the publishes start in order and take the channel's lock
        # (FIFO) in that order before writing. On failure Rasa's broker keeps an event
        # and sends it again once the connection is back (`pika.events.publish.failed`).
        await asyncio.gather(*(event_broker._publish(body) for body in bodies))
