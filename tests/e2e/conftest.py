"""The whole system started for real: PostgreSQL, Redis, a trained Rasa model, the
action server, core_banking and the gateway, talking HTTP to each other."""

import asyncio
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from scripts.ports import free_port
from scripts.stack import Stack
from scripts.train import model_path
from tests.support import delete_broker_objects, fresh_postgres_database, key_pair


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    with fresh_postgres_database("e2e") as url:
        yield url


def stack_env(database_url: str, keys_dir: Path, **extra: str) -> dict[str, str]:
    """A whole system's environment: its own ports, database and Redis prefix."""
    private_key, public_key = key_pair(keys_dir)
    return {
        **os.environ,
        "APP_ENV": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "REDIS_KEY_PREFIX": f"e2e-{uuid.uuid4().hex[:8]}:",
        # Its own transcript store (the default is var/transcripts.sqlite3, which every
        # run would share: the console would show earlier runs' conversations).
        "TRANSCRIPT_DATABASE_URL": f"sqlite+aiosqlite:///{keys_dir}/transcripts.sqlite3",
        "JWT_PRIVATE_KEY_FILE": str(private_key),
        "JWT_PUBLIC_KEY_FILE": str(public_key),
        "GATEWAY_PORT": str(free_port()),
        "CORE_BANKING_PORT": str(free_port()),
        "RASA_PORT": str(free_port()),
        "ACTION_SERVER_PORT": str(free_port()),
        # Two cores shared by four services and the tests: allow slow turns without the
        # gateway's "still working" notice, which the conversation tests would see.
        "RASA_SOFT_TIMEOUT_SECONDS": "60",
        # Finished spans as log lines: tests/e2e/test_observability.py follows a turn.
        "OTEL_TRACES_EXPORTER": "log",
        **extra,
    }


def trained_model() -> Path:
    # E2E_MODEL: try a model other than the one for the current data (development only).
    model = Path(os.environ["E2E_MODEL"]) if os.environ.get("E2E_MODEL") else model_path()
    if not model.exists():
        pytest.fail(f"no trained model at {model}: run `make train` (make test does)")
    return model


def started(stack: Stack, log_dir: Path) -> Stack:
    try:
        stack.start()
    except Exception:
        for log in sorted(log_dir.glob("*.log")):  # show why, since CI keeps no files
            print(f"----- {log.name} (last 40 lines)")
            print("\n".join(log.read_text(errors="replace").splitlines()[-40:]))
        stack.stop()
        raise
    return stack


@pytest.fixture(scope="session")
def stack(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    model = trained_model()
    env = stack_env(database_url, tmp_path_factory.mktemp("keys"))
    log_dir = Path(tmp_path_factory.mktemp("logs"))
    stack = Stack(model, env=env, log_dir=log_dir)
    stack.prepare_database(seed_customers=3)
    try:
        started(stack, log_dir)
        yield stack
    finally:
        stack.stop()
        asyncio.run(delete_broker_objects(stack.env))


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make setup` installs Debian's chromium package")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()
