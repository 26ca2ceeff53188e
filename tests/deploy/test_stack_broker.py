"""`make run` and Rasa's event broker (scripts/stack.py): each stack gets its own
exchange and queue, and without RabbitMQ `make run` stops and says what to install."""

import pytest

from scripts.ports import free_port
from scripts.stack import StackError, ensure_rabbitmq, event_broker_env


def test_stacks_sharing_rabbitmq_get_their_own_exchange_and_queue() -> None:
    one = event_broker_env({"REDIS_KEY_PREFIX": "e2e-1a:"})
    two = event_broker_env({"REDIS_KEY_PREFIX": "e2e-2b:"})
    assert one["RASA_EVENTS_QUEUE"] != two["RASA_EVENTS_QUEUE"]
    assert one["RASA_EVENTS_EXCHANGE"] != two["RASA_EVENTS_EXCHANGE"]


def test_without_rabbitmq_make_run_says_what_to_install() -> None:
    closed = str(free_port())  # nothing listens there
    with pytest.raises(StackError, match="apt-get install rabbitmq-server"):
        ensure_rabbitmq({"RABBITMQ_HOST": "127.0.0.1", "RABBITMQ_PORT": closed})


def test_a_running_rabbitmq_is_accepted() -> None:
    ensure_rabbitmq({"RABBITMQ_HOST": "127.0.0.1", "RABBITMQ_PORT": "5672"})
