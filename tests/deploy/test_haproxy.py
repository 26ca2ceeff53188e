"""The HAProxy configuration `make run-scaled` writes (scripts/scaled.py) is valid for
the installed HAProxy, balances each tier over its replicas and waits for all of them."""

import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from scripts.ports import free_port as _free_port
from scripts.scaled import Balancer, haproxy_config


def test_the_generated_configuration_is_valid_haproxy(tmp_path: Path) -> None:
    balancers = [
        Balancer("gateway", 8080, "/health", [("gateway", 8000), ("gateway-2", 8010)], True),
        Balancer("rasa", 5004, "/", [("rasa", 5005), ("rasa-2", 5006)]),
        Balancer("actions", 5054, "/health", [("actions", 5055), ("actions-2", 5056)]),
    ]
    config = haproxy_config(balancers, 8081)
    path = tmp_path / "haproxy.cfg"
    path.write_text(config)
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    checked = subprocess.run([haproxy, "-c", "-f", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert config.count("option forwardfor") == 1  # the public frontend only
    assert (
        "monitor fail if { nbsrv(gateway_servers) lt 2 } || { nbsrv(rasa_servers) lt 2 }" in config
    )
    for name, port in [("rasa-2", 5006), ("actions-2", 5056), ("gateway-2", 8010)]:
        assert f"server {name} 127.0.0.1:{port} check" in config


class _Backend(BaseHTTPRequestHandler):
    """Answers health checks; a POST is answered, or taken and dropped unanswered (as
    by a server SIGKILLed with the request in hand) when the server is `dying`."""

    dying = False

    def do_GET(self) -> None:
        self._answer(b"ok")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.server.dying:  # type: ignore[attr-defined]
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self._answer(str(len(body)).encode())

    def _answer(self, payload: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


def _serve(dying: bool) -> tuple[ThreadingHTTPServer, int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Backend)
    server.dying = dying  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


@pytest.mark.parametrize("retry", [True, False])
def test_an_action_call_a_dying_server_took_is_answered_by_the_other(
    tmp_path: Path, retry: bool
) -> None:
    """The chaos run lost turns when an action server died holding Rasa's call: Rasa
    never retries. With the actions tier's L7 retries every call is answered by the
    live server, bodies larger than HAProxy's default 16 kB buffer included (a tracker);
    without them some calls get 502."""
    servers = [_serve(dying=True), _serve(dying=False)]
    lb_port, monitor = _free_port(), _free_port()
    balancer = Balancer(
        "actions", lb_port, "/health", [("a", servers[0][1]), ("b", servers[1][1])], False, retry
    )
    (tmp_path / "haproxy.cfg").write_text(haproxy_config([balancer], monitor))
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    process = subprocess.Popen([haproxy, "-f", str(tmp_path / "haproxy.cfg")])
    try:
        with httpx.Client(timeout=10) as http:
            for _ in range(100):  # both servers up in HAProxy's checks
                try:
                    if http.get(f"http://127.0.0.1:{monitor}/ready").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
            body = "x" * 40_000
            statuses = [
                http.post(f"http://127.0.0.1:{lb_port}/webhook", content=body).status_code
                for _ in range(10)
            ]
    finally:
        process.terminate()
        process.wait(timeout=10)
        for server, _ in servers:
            server.shutdown()
    if retry:
        assert statuses == [200] * 10
    else:
        assert 502 in statuses
