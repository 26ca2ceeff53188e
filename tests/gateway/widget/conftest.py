"""Fixtures for the customer widget's browser tests: a real gateway (real Redis) behind a
TCP proxy that can cut the network, a stub Rasa with the replies the widget must render,
an embedding page served from another origin, Debian's Chromium and axe-core."""

from __future__ import annotations

import contextlib
import functools
import http.server
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI, Request
from playwright.sync_api import Browser, sync_playwright

from gateway.settings import DEFAULT_CHAT_CREDENTIAL_KEY, Settings
from tests.gateway.conftest import ServerThread, free_port, gateway_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AXE = Path(__file__).parents[3] / "gateway/static/vendor/axe.min.js"  # scripts/vendor_frontend.sh
SCREENS = Path("var/screens")
GIFT_CODE = "GIFT-7Q2M-84KD-WXYZ"
MARKDOWN_REPLY = (
    "Here is **what I can do**:\n"
    "- check a **balance**\n"
    "- send money\n"
    "See [our help pages](https://bank.example/help) or [this](javascript:alert(1)).\n"
    '<img src="x" onerror="window.__injected = 1"><b>not bold</b>'
)


def stub_rasa_app() -> FastAPI:
    """Rasa's REST channel, answering by the message: ``markdown``, ``balance`` (the
    real bot's log-in request), ``buy gift card`` (a sealed code, as the action server
    sends it), ``choose`` (quick replies), ``handoff…``; anything else is echoed."""
    app = FastAPI()
    sealed = Fernet(DEFAULT_CHAT_CREDENTIAL_KEY.encode()).encrypt(GIFT_CODE.encode()).decode()

    @app.post("/webhooks/rest/webhook")
    async def webhook(request: Request) -> list[dict[str, Any]]:
        body = await request.json()
        sender, message = body["sender"], str(body["message"])

        def say(text: str, **extra: Any) -> list[dict[str, Any]]:
            return [{"recipient_id": sender, "text": text, **extra}]

        if message == "markdown":
            return say(MARKDOWN_REPLY)
        if message == "balance":
            return say("Please log in first so I can look at your accounts.")
        if message == "buy gift card":
            return say(
                f"Done. Its code is [sealed:WXYZ:{sealed}]. Keep it safe: "
                "it will never be shown again."
            )
        if message == "choose":
            buttons = [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]
            return say("Shall I go ahead?", buttons=buttons)
        if message.startswith("handoff"):
            return say("I'll ask a colleague to join.", custom={"handoff": "requested"})
        return say(f"you said: {message}")

    return app


class DroppableProxy:
    """A TCP proxy in front of the gateway: ``drop()`` cuts every connection at once
    and refuses new ones until ``resume()``; the browser sees a real network failure."""

    def __init__(self, target_port: int) -> None:
        self.port = free_port()
        self.target_port = target_port
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listening = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def resume(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port))
        listener.settimeout(0.1)
        self._listening.set()
        self._thread = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._thread.start()

    def drop(self) -> None:
        self._listening.clear()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        with listener:
            while self._listening.is_set():
                try:
                    client, _ = listener.accept()
                except TimeoutError:
                    continue
                client.settimeout(None)
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
                with self._lock:
                    self._sockets += [client, upstream]
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)


class StaticSite:
    """A plain http.server on its own port: another origin than the gateway's."""

    def __init__(self, root: Path) -> None:
        handler = functools.partial(_QuietHandler, directory=str(root))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.root = root
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def page(self, name: str, gateway: str) -> str:
        """An embedding page: a shop's own content and the widget's one script tag."""
        (self.root / name).write_text(
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            "<title>Demo shop</title><style>body{font-family:serif;background:#fffbe6}</style>"
            "</head><body><main><h1>Demo shop</h1><p>Our own page, on another origin.</p>"
            "</main>"
            f'<script src="{gateway}/static/widget-embed.js" data-gateway="{gateway}"></script>'
            "</body></html>"
        )
        return f"{self.origin}/{name}"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaticSite]:
    """Its origin is in the widget gateway's ALLOWED_ORIGINS."""
    site = StaticSite(tmp_path_factory.mktemp("demo-site"))
    site.thread.start()
    yield site
    site.server.shutdown()


@pytest.fixture(scope="session")
def foreign_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaticSite]:
    """An origin nobody configured."""
    site = StaticSite(tmp_path_factory.mktemp("foreign-site"))
    site.thread.start()
    yield site
    site.server.shutdown()


@pytest.fixture(scope="session")
def widget_rasa() -> Iterator[ServerThread]:
    with ServerThread(stub_rasa_app()) as server:
        yield server


@pytest.fixture(scope="session")
def widget_gateway(
    make_settings: Callable[..., Settings],
    redis_prefix: str,
    widget_rasa: ServerThread,
    demo_site: StaticSite,
) -> Iterator[ServerThread]:
    settings = make_settings(
        rasa_url=widget_rasa.url,
        redis_key_prefix=f"{redis_prefix}widget:",
        allowed_origins=demo_site.origin,
        hello_timeout_seconds=5,
    )
    with gateway_server(settings) as server:
        yield server


@pytest.fixture
def proxy(widget_gateway: ServerThread) -> Iterator[DroppableProxy]:
    proxy = DroppableProxy(widget_gateway.port)
    proxy.resume()
    yield proxy
    proxy.drop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Per module: the sync API runs an event loop while it is open, which the async
    tests collected after these must not find running."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium not installed (make setup / scripts/ensure_chromium.sh)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run"],
        )
        yield browser
        browser.close()
