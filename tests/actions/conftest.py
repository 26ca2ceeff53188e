"""Fixtures for the action tests: trackers as Rasa sends them, and a real core_banking
process (SQLite, migrated and seeded) reached over HTTP with a real signed token."""

import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import jwt
import pytest
from cryptography.fernet import Fernet
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from actions.settings import DEFAULT_CHAT_CREDENTIAL_KEY  # noqa: E402
from scripts.dev_keys import ensure_key_pair  # noqa: E402
from scripts.ports import free_port as _free_port  # noqa: E402

APP_PYTHON = ROOT / ".venv" / "bin" / "python"
SESSION = "session-under-test"


def sealed_metadata(
    customer_id: str | None,
    token: str | None,
    *,
    session_id: str = SESSION,
    turn_id: str | None = None,
    client_ip: str | None = "203.0.113.9",
    key: str = DEFAULT_CHAT_CREDENTIAL_KEY,
) -> dict[str, Any]:
    """The metadata the gateway relays: the sealed turn credential (as
    gateway/chat/credentials.py seals it) and the clear hints beside it."""
    turn = turn_id or f"{session_id}:{uuid.uuid4().hex[:8]}"
    body = {
        "v": 1,
        "sub": customer_id,
        "sid": session_id,
        "turn": turn,
        "ip": client_ip,
        "token": token,
    }
    credential = Fernet(key.encode()).encrypt(json.dumps(body).encode()).decode()
    metadata = {"customer_id": customer_id, "session_id": session_id, "credential": credential}
    # The clear turn_id only when the test names the turn: without it the actions key
    # their operations by Rasa's message_id, which these tests choose per message.
    return {**metadata, "turn_id": turn_id} if turn_id else metadata


class CoreBanking:
    def __init__(self, url: str, database: Path, private_key: bytes, env: dict[str, str]) -> None:
        self.url = url
        self.database = database
        self.private_key = private_key
        self.env = env

    def sealed(self, context: str, value: str) -> str:
        """``value`` as core_banking stores it in column ``context`` ("table.column"):
        encrypted at rest, by core_banking's own code and keys (another venv)."""
        code = (
            "import sys; from core_banking.models.encrypted import active_cipher;"
            " print(active_cipher().encrypt(sys.argv[1], context=sys.argv[2]))"
        )
        done = subprocess.run(
            [str(APP_PYTHON), "-c", code, value, context],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    def metadata(self, username: str, **sealing: Any) -> dict[str, Any]:
        """What the gateway relays for a logged-in customer."""
        return sealed_metadata(self.customer_id(username), self.token(username), **sealing)

    def customer_id(self, username: str) -> str:
        with sqlite3.connect(self.database) as conn:
            row = conn.execute("SELECT id FROM customers WHERE username = ?", (username,))
            return str(row.fetchone()[0])

    def token(self, username: str, expires_in: int = 300) -> str:
        now = int(time.time())
        claims = {
            "sub": self.customer_id(username),
            "iss": "bank-gateway",
            "aud": "bank-chat",
            "iat": now,
            "exp": now + expires_in,
            "jti": uuid.uuid4().hex,
            "roles": ["customer"],
            "username": username,
        }
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": "dev-1"})


@pytest.fixture(scope="session")
def core_banking(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CoreBanking]:
    work = tmp_path_factory.mktemp("core_banking")
    private, public = work / "jwt-private.pem", work / "jwt-public.pem"
    ensure_key_pair(private, public)
    database = work / "bank.sqlite3"
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "APP_ENV": "test",
        "DATABASE_URL": f"sqlite:///{database}",
        "JWT_PUBLIC_KEY_FILE": str(public),
    }
    for module, *args in (("core_banking.migrate",), ("core_banking.seed", "--customers", "4")):
        subprocess.run([str(APP_PYTHON), "-m", module, *args], cwd=ROOT, env=env, check=True)
    log = open(work / "core_banking.log", "wb")  # noqa: SIM115 (closed in finally)
    process = subprocess.Popen(
        [str(APP_PYTHON), "-m", "uvicorn", "core_banking.app:app", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                with urlopen(f"{url}/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("core_banking did not start: " + (work / "core_banking.log").read_text())
        yield CoreBanking(url, database, private.read_bytes(), env)
    finally:
        process.terminate()
        process.wait(10)
        log.close()


@pytest.fixture
def use_core_banking(core_banking: CoreBanking, monkeypatch: pytest.MonkeyPatch) -> CoreBanking:
    """Point the actions' settings (and their pooled HTTP client) at `core_banking`."""
    _reset_action_settings(monkeypatch, core_banking.url)
    return core_banking


@pytest.fixture
def unreachable_core_banking(monkeypatch: pytest.MonkeyPatch) -> None:
    _reset_action_settings(monkeypatch, f"http://127.0.0.1:{_free_port()}")


def _reset_action_settings(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    import actions.core_banking_api.client
    from actions.settings import get_settings

    monkeypatch.setenv("CORE_BANKING_URL", url)
    get_settings.cache_clear()
    monkeypatch.setattr(actions.core_banking_api.client, "_client", None)


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


TrackerFactory = Callable[..., Tracker]


@pytest.fixture
def make_tracker() -> TrackerFactory:
    """A tracker whose latest user message carries the gateway's metadata."""

    def build(
        text: str = "what's my balance?",
        intent: str = "check_balance",
        metadata: dict[str, Any] | None = None,
        slots: dict[str, Any] | None = None,
        entities: list[dict[str, Any]] | None = None,
        message_id: str = "message-1",
        sender_id: str = SESSION,
        events: list[dict[str, Any]] | None = None,
    ) -> Tracker:
        latest = {
            "text": text,
            "intent": {"name": intent, "confidence": 0.99},
            "entities": entities or [],
            "metadata": metadata or {},
            "message_id": message_id,
        }
        return Tracker(
            sender_id=sender_id,
            slots=slots or {},
            latest_message=latest,
            events=events or [],
            paused=False,
            followup_action=None,
            active_loop={},
            latest_action_name="action_listen",
        )

    return build


NluEntities = Callable[..., list[dict[str, Any]]]


@pytest.fixture
def nlu() -> NluEntities:
    """The entities the NLU's rule-based extractor (bot/components/entity_rules.py) gives
    a text, as Rasa puts them on the message: the actions are tested on what the NLU
    really says, not on entities written by hand."""
    from bot.components.entity_rules import extract

    def parse(text: str, locale: str | None = None) -> list[dict[str, Any]]:
        return [
            {
                "entity": f.entity,
                "value": f.value,
                "start": f.start,
                "end": f.end,
                **({"role": f.role} if f.role else {}),
            }
            for f in extract(text, locale=locale)
        ]

    return parse
