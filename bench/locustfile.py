"""Load test of the whole system through the contract: chat users that log in (or stay
guests), open the WebSocket, and hold realistic conversations: balances, transaction
searches, support questions, small talk, and now and then a reconnect that resumes the
session. Nothing here moves money, so a run leaves the ledger as it found it.

    make run                                   # in another terminal
    .venv/bin/locust -f bench/locustfile.py --host http://127.0.0.1:8000          # web UI :8089
    .venv/bin/locust -f bench/locustfile.py --host http://127.0.0.1:8000 \\
        --headless -u 40 -r 4 -t 2m --csv var/load/run

Settings (environment): LOAD_CUSTOMERS (demo001 … demoN to log in as, default 20: the
`make seed` default), LOAD_GUEST_SHARE (fraction of users who stay guests, default 0.2),
LOAD_TURN_TIMEOUT (seconds to wait for a turn's replies, default 60). Users are spread
over the customers in turn, so up to LOAD_CUSTOMERS x MAX_SOCKETS_PER_USER (10) users
stay under the gateway's per-customer limits.

Reported request types: `POST /auth/token`; `WS hello` (connect + welcome);
`WS turn: <kind>`, timed from sending the message to the reply's `typing off` (the
customer's wait); `WS resume`. A turn fails on an `error` frame (`rate_limited` …), a
closed socket, no reply within LOAD_TURN_TIMEOUT, or when the gateway had to send its
5 s "still working" notice (`unavailable`; the turn is then timed to its late reply).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import time
import uuid
from typing import Any

import requests
from locust import User, between, events, task
from websockets.sync.client import ClientConnection, connect

CUSTOMERS = int(os.environ.get("LOAD_CUSTOMERS", "20"))
GUEST_SHARE = float(os.environ.get("LOAD_GUEST_SHARE", "0.2"))
TURN_TIMEOUT = float(os.environ.get("LOAD_TURN_TIMEOUT", "60"))
_next_customer = itertools.count()

CUSTOMER_TURNS = {
    "balance": ["what's my balance?", "how much money do I have", "balance of my savings"],
    "transactions": [
        "show my transactions from last month",
        "payments over 100 euros",
        "what did I spend this week?",
    ],
}
ANYONE_TURNS = {
    "faq": [
        "how long does a transfer take?",
        "my card hasn't arrived yet",
        "why was I charged a fee for my transfer?",
        "how do I top up with apple pay",
        "is there a limit on cash withdrawals?",
        "I lost my card",
    ],
    "smalltalk": ["hi", "thanks!", "are you a bot?"],
}


class TurnFailed(Exception):
    pass


class ChatUser(User):
    """One customer (or guest) in the chat widget."""

    wait_time = between(2, 8)  # a person reading the reply and typing the next message

    def on_start(self) -> None:
        self.token: str | None = None
        if random.random() >= GUEST_SHARE:  # noqa: S311 (a load mix, not a secret)
            username = f"demo{next(_next_customer) % CUSTOMERS + 1:03d}"
            self.token = self._login(username)
        self.session_id: str | None = None
        self.last_seq = 0
        self.ws: ClientConnection | None = None
        self._sockets = contextlib.ExitStack()  # websockets wants connect() as a context
        self._open("WS hello")

    def on_stop(self) -> None:
        self._sockets.close()

    # --- conversation ------------------------------------------------------------------

    @task(4)
    def support_question(self) -> None:
        self._turn("faq")

    @task(2)
    def small_talk(self) -> None:
        self._turn("smalltalk")

    @task(3)
    def balance(self) -> None:
        self._turn("balance")

    @task(2)
    def transactions(self) -> None:
        self._turn("transactions")

    @task(1)
    def reconnect(self) -> None:
        """The app went to the background: drop the socket, come back, resume."""
        self._open("WS resume")

    # --- plumbing ----------------------------------------------------------------------

    def _login(self, username: str) -> str | None:
        started = time.perf_counter()
        exc: Exception | None = None
        token = None
        try:
            response = requests.post(
                f"{self.host}/auth/token",
                timeout=30,
                data={"username": username, "password": "demo-password"},
            )
            response.raise_for_status()
            token = str(response.json()["access_token"])
        except (requests.RequestException, KeyError, ValueError) as error:
            exc = error
        self._report("HTTP", "POST /auth/token", started, exc)
        return token

    def _open(self, name: str) -> None:
        started = time.perf_counter()
        exc: Exception | None = None
        try:
            self._sockets.close()  # the previous socket, if any
            url = str(self.host).replace("http", "ws", 1) + "/ws"
            self.ws = self._sockets.enter_context(connect(url, open_timeout=30))
            hello: dict[str, Any] = {"type": "hello"}
            if self.token:
                hello["token"] = self.token
            if self.session_id:
                hello.update(session_id=self.session_id, last_seq=self.last_seq)
            self.ws.send(json.dumps(hello))
            welcome = self._recv()  # resumed frames come after it, errors instead of it
            if welcome.get("type") != "welcome":
                raise TurnFailed(f"{welcome.get('code')}: {welcome.get('message')}")
            self.session_id = str(welcome["session_id"])
        except Exception as error:  # any failure is a failed request
            exc = error
            self.ws = None
        self._report("WS", name, started, exc)

    def _recv(self) -> dict[str, Any]:
        assert self.ws is not None
        frame = dict(json.loads(self.ws.recv(timeout=TURN_TIMEOUT)))
        if isinstance(frame.get("seq"), int):
            self.last_seq = max(self.last_seq, frame["seq"])
        return frame

    def _turn(self, kind: str) -> None:
        turns = {**ANYONE_TURNS, **(CUSTOMER_TURNS if self.token else {})}
        kind = kind if kind in turns else "faq"  # guests ask a support question instead
        text = random.choice(turns[kind])  # noqa: S311 (a load mix, not a secret)
        if self.ws is None:
            self._open("WS resume")
            if self.ws is None:
                return
        started = time.perf_counter()
        exc: Exception | None = None
        client_msg_id = uuid.uuid4().hex
        try:
            self.ws.send(
                json.dumps({"type": "message", "client_msg_id": client_msg_id, "text": text})
            )
            self._await_reply(client_msg_id)
        except Exception as error:  # any failure is a failed turn
            exc = error
            if not isinstance(error, TurnFailed):
                self.ws = None  # reconnect (and resume) next time
        self._report("WS", f"turn: {kind}", started, exc)

    def _await_reply(self, client_msg_id: str) -> None:
        """Wait for the turn's replies: ``typing off`` after a ``bot`` frame for it.
        The gateway's 5 s "still working" notice (``unavailable``) does not end the
        wait (the reply still comes, and must not spill into the next turn) but fails
        the turn as slow; any other ``error`` frame fails it at once."""
        answered = slow = False
        while True:
            frame = self._recv()
            if frame.get("type") == "error":
                if frame.get("code") != "unavailable":
                    raise TurnFailed(f"{frame.get('code')}: {frame.get('message')}")
                slow = True
            elif frame.get("type") == "bot" and frame.get("reply_to") == client_msg_id:
                answered = True
            elif answered and frame == {"type": "typing", "state": "off"}:
                break
        if slow:
            raise TurnFailed("slow: answered after the gateway's 5 s 'still working' notice")

    def _report(self, kind: str, name: str, started: float, exc: Exception | None) -> None:
        events.request.fire(
            request_type=kind,
            name=name,
            response_length=0,
            exception=exc,
            response_time=(time.perf_counter() - started) * 1000,
            context={},
        )
