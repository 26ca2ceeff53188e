"""The action server exports its spans over OTLP/HTTP (issue 19): a real
``python -m actions.server`` process, configured only by the standard ``OTEL_*``
variables, sends the span of an action run to a local OTLP/HTTP receiver, in the trace
the gateway's ``traceparent`` (message metadata) named, as a child of the gateway's span.

The receiver is a tiny HTTP server in this test that keeps what is POSTed to
``/v1/traces``; the exporter (actions/requirements.txt) sends JSON bodies, since its
protobuf twin cannot install beside Rasa's protobuf 4.
"""

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.error import URLError
from urllib.request import Request, urlopen

import pytest

from tests.actions.conftest import ROOT, _free_port
from tests.actions.test_observability import PARENT_SPAN, TOKEN, TRACE_ID, webhook_body


class Receiver(ThreadingHTTPServer):
    def __init__(self) -> None:
        self.posts: list[tuple[str, str, bytes]] = []  # path, content type, body
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def spans(self) -> list[dict[str, Any]]:
        """Every span of every OTLP/JSON export request received so far."""
        out: list[dict[str, Any]] = []
        for path, kind, body in list(self.posts):
            if path != "/v1/traces" or not kind.startswith("application/json"):
                continue
            for resource in json.loads(body).get("resourceSpans", []):
                service = {
                    a["key"]: a["value"].get("stringValue")
                    for a in resource.get("resource", {}).get("attributes", [])
                }.get("service.name")
                for scope in resource.get("scopeSpans", []):
                    out.extend({**span, "service": service} for span in scope.get("spans", []))
        return out


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.posts.append((self.path, self.headers.get("Content-Type") or "", body))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _wait_until(check: Any, what: str, seconds: float = 30.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def _health(url: str) -> bool:
    try:
        with urlopen(f"{url}/health", timeout=1) as response:
            return bool(response.status == 200)
    except (URLError, OSError):
        return False


def test_the_action_servers_spans_reach_an_otlp_receiver(receiver: Receiver) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "ACTION_SERVER_PORT": str(port),
        "ACTION_SERVER_TOKEN": TOKEN,
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{receiver.url}/v1/traces",
        "OTEL_SERVICE_NAME": "actions-under-test",
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # export within 0.1 s instead of 5 s
        "CORE_BANKING_URL": "http://127.0.0.1:9",  # a guest's action calls nothing
    }
    env.pop("OTEL_TRACES_EXPORTER", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "actions.server"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until(lambda: _health(url), "the action server")
        body = webhook_body({"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN}-01"})
        request = Request(
            f"{url}/webhook",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "X-Action-Token": TOKEN},
        )
        with urlopen(request, timeout=10) as response:
            assert response.status == 200

        def action_span() -> list[dict[str, Any]]:
            return [s for s in receiver.spans() if s["name"] == "action action_check_balance"]

        [span] = _wait_until(action_span, "the action's span at the receiver")
    finally:
        server.terminate()
        server.wait(timeout=15)
    assert span["traceId"].lower() == TRACE_ID
    assert span["parentSpanId"].lower() == PARENT_SPAN
    assert span["service"] == "actions-under-test"
