"""``python -m gateway.transcripts.consumer``: the broker consumer on its own.

Every gateway already runs one (``RASA_EVENTS_CONSUMER``); this runs one more, or the
only one when the gateways have it switched off, with the gateway's settings
(RABBITMQ_*, RASA_EVENTS_*, TRANSCRIPT_DATABASE_URL, REDIS_URL, REDIS_KEY_PREFIX).
"""

from __future__ import annotations

import asyncio
import contextlib

from redis.asyncio import Redis

from gateway.chat.store import erased_set_key
from gateway.observability import configure_logging
from gateway.settings import Settings
from gateway.transcripts.broker import BrokerConsumer, EventSink
from gateway.transcripts.schema import TranscriptSchema
from gateway.transcripts.writer import TranscriptQueue, make_engine


async def main() -> None:
    settings = Settings()
    redis = Redis.from_url(settings.redis_url)
    engine = make_engine(settings.transcript_database_url)
    queue = TranscriptQueue(redis, key_prefix=settings.redis_key_prefix)
    sink = EventSink(TranscriptSchema(engine), redis=redis, erased_key=erased_set_key(queue.key))
    try:
        await BrokerConsumer(settings, sink).run()
    finally:
        await engine.dispose()
        await redis.aclose()


if __name__ == "__main__":
    configure_logging("gateway")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
