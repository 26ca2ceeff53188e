"""One whole system for the conversation suite (as tests/e2e/conftest.py starts it),
seeded with a demo customer per logged-in conversation, and the conversations the run
selected played once, several at a time; each test then reports its own outcome."""

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.stack import Stack
from tests.conversations.runner import Outcome, Urls, play_all
from tests.conversations.spec import Conversation, load_conversations
from tests.e2e.conftest import stack_env, started, trained_model
from tests.support import fresh_postgres_database

# Conversations played at once. Each has its own customer and session, so they cannot
# interfere; while one waits for Rasa, another's actions and core_banking calls run
# (measured on the 2-core machine under load: 6 at a time 284 s, 3 at a time 320 s).
CONCURRENCY = int(os.environ.get("CONVERSATIONS_CONCURRENCY", "6"))
TIMING: dict[str, float] = {}


@pytest.fixture(scope="session")
def conversation_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    customers = max(c.customer_number or 0 for c in load_conversations())
    with fresh_postgres_database("conversations") as database_url:
        env = stack_env(database_url, tmp_path_factory.mktemp("keys"))
        log_dir = Path(tmp_path_factory.mktemp("logs"))
        stack = Stack(trained_model(), env=env, log_dir=log_dir)
        stack.prepare_database(seed_customers=customers)
        try:
            started(stack, log_dir)
            yield stack
        finally:
            stack.stop()


@pytest.fixture(scope="session")
def outcomes(request: pytest.FixtureRequest, conversation_stack: Stack) -> dict[str, Outcome]:
    selected: list[Conversation] = [
        item.callspec.params["conversation"]
        for item in request.session.items
        if hasattr(item, "callspec") and "conversation" in item.callspec.params
    ]
    urls = Urls(conversation_stack.urls["gateway"], conversation_stack.urls["core_banking"])
    began = time.monotonic()
    played = asyncio.run(play_all(urls, selected, CONCURRENCY))
    TIMING["seconds"] = time.monotonic() - began
    TIMING["conversations"] = len(played)
    TIMING["turns"] = sum(o.turns for o in played.values())
    if os.environ.get("CONVERSATIONS_TRANSCRIPTS"):  # every transcript, to read them all
        Path(os.environ["CONVERSATIONS_TRANSCRIPTS"]).write_text(
            "\n\n".join(
                "\n".join([*o.transcript, f"=> {'ok' if o.ok else 'FAILED: ' + o.failure}"])
                for o in played.values()
            )
        )
    return played


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMING:
        terminalreporter.write_line(
            f"conversations: {TIMING['conversations']:.0f} played ({TIMING['turns']:.0f} turns)"
            f" in {TIMING['seconds']:.1f} s, {CONCURRENCY} at a time"
        )
