"""Helpers shared by the tests that start real services."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aio_pika
import psycopg
from psycopg import sql

from scripts.dev_keys import ensure_key_pair

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"


@contextmanager
def fresh_postgres_database(prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database for the block; yields its SQLAlchemy URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def key_pair(directory: Path) -> tuple[Path, Path]:
    private, public = directory / "jwt-private.pem", directory / "jwt-public.pem"
    ensure_key_pair(private, public)
    return private, public


async def delete_broker_objects(env: dict[str, str]) -> None:
    """A finished stack's event queue and exchange (scripts/stack.py names them after
    its key prefix), so test runs leave nothing behind in the shared RabbitMQ."""
    connection = await aio_pika.connect(host=env["RABBITMQ_HOST"], port=int(env["RABBITMQ_PORT"]))
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(env["RASA_EVENTS_QUEUE"])
        await channel.exchange_delete(env["RASA_EVENTS_EXCHANGE"])
