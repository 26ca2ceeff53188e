"""Gateway benchmark: idle sockets and RSS per socket, turns/s against a stub bot
compared with a bare FastAPI WebSocket echo server, and the latency the gateway adds
over calling the stub Rasa directly.

    PYTHONPATH=. .venv/bin/python bench/gateway.py [--sockets 500] [--clients 20] [--turns 20]

Needs Redis at REDIS_URL (default redis://127.0.0.1:6379/0); uses a throwaway key
prefix, RSA key and SQLite transcript file. Servers run as separate processes so the
RSS figures are the gateway's own. Numbers are for comparison on one machine only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import redis
import uvicorn
from fastapi import FastAPI, Request, WebSocket
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent


def stub_rasa_app() -> FastAPI:
    app = FastAPI()

    @app.post("/webhooks/rest/webhook")
    async def webhook(request: Request) -> list[dict[str, Any]]:
        body = await request.json()
        return [{"recipient_id": body["sender"], "text": f"you said: {body['message']}"}]

    return app


def echo_app() -> FastAPI:
    """The floor: accept, read a frame, answer one frame; no auth, Redis or bot."""
    app = FastAPI()

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        while True:
            frame = json.loads(await websocket.receive_text())
            await websocket.send_text(json.dumps({"type": "bot", "text": frame.get("text")}))

    return app


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def start(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, *args], env=env, cwd=ROOT,  # noqa: S603
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=0.5)
            return proc
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{args} did not start")


async def turns(
    url: str, clients: int, per_client: int, gateway: bool
) -> tuple[float, list[float]]:
    latencies: list[float] = []

    async def client() -> None:
        async with connect(url, max_size=None) as ws:
            if gateway:
                await ws.send(json.dumps({"type": "hello"}))
                await ws.recv()
            for _ in range(per_client):
                started = time.perf_counter()
                await ws.send(json.dumps({"type": "message", "client_msg_id": uuid.uuid4().hex,
                                          "text": "hello"}))
                while json.loads(await ws.recv())["type"] != "bot":
                    pass
                latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return clients * per_client / (time.perf_counter() - started), latencies


async def direct_rasa(url: str, count: int) -> list[float]:
    out = []
    async with httpx.AsyncClient(base_url=url) as http:
        for _ in range(count):
            started = time.perf_counter()
            await http.post("/webhooks/rest/webhook", json={"sender": "b", "message": "hello"})
            out.append(time.perf_counter() - started)
    return out


async def idle_sockets(url: str, count: int, pid: int) -> tuple[int, int]:
    before = rss_kib(pid)
    sockets = []
    for _ in range(count):
        ws = await connect(url)
        await ws.send(json.dumps({"type": "hello"}))
        await ws.recv()
        sockets.append(ws)
    await asyncio.sleep(1)
    after = rss_kib(pid)
    await asyncio.gather(*(ws.close() for ws in sockets))
    return before, after


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def main(opts: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.gateway.conftest import make_private_key_pem

    tmp = Path(tempfile.mkdtemp(prefix="gwbench-"))
    (tmp / "key.pem").write_text(make_private_key_pem())
    ports = {name: free_port() for name in ("rasa", "echo", "gateway")}
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JWT_PRIVATE_KEY_FILE": str(tmp / "key.pem"),
           "REDIS_KEY_PREFIX": f"gwbench-{uuid.uuid4().hex[:8]}:", "APP_ENV": "test",
           "RASA_URL": f"http://127.0.0.1:{ports['rasa']}", "GATEWAY_PORT": str(ports["gateway"]),
           "TRANSCRIPT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/t.sqlite3",
           "RATE_SESSION_MESSAGES": "1000000", "RATE_USER_MESSAGES": "1000000"}
    procs = [
        start([__file__, "--serve", "rasa", str(ports["rasa"])], env, ports["rasa"]),
        start([__file__, "--serve", "echo", str(ports["echo"])], env, ports["echo"]),
        start(["-m", "gateway"], env, ports["gateway"]),
    ]
    try:
        gw, echo = (f"ws://127.0.0.1:{ports[p]}/ws" for p in ("gateway", "echo"))
        before, after = await idle_sockets(gw, opts.sockets, procs[2].pid)
        print(f"idle sockets: {opts.sockets}, gateway RSS {before} -> {after} KiB, "
              f"{(after - before) / opts.sockets:.1f} KiB per socket")
        rate, gw_lat = await turns(gw, opts.clients, opts.turns, gateway=True)
        echo_rate, _ = await turns(echo, opts.clients, opts.turns, gateway=False)
        print(f"turns/s with {opts.clients} clients: gateway+stub bot {rate:.0f}, "
              f"bare echo server {echo_rate:.0f}")
        _, single = await turns(gw, 1, opts.turns, gateway=True)
        direct = await direct_rasa(f"http://127.0.0.1:{ports['rasa']}", opts.turns)
        print(f"median latency, one client: via gateway {statistics.median(single) * 1000:.1f}"
              f" ms, stub Rasa directly {statistics.median(direct) * 1000:.1f} ms, added "
              f"{(statistics.median(single) - statistics.median(direct)) * 1000:.1f} ms; "
              f"p95 under load {sorted(gw_lat)[int(len(gw_lat) * 0.95)] * 1000:.1f} ms")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)
        client = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
        keys = list(client.scan_iter(match=f"{env['REDIS_KEY_PREFIX']}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        app = stub_rasa_app() if sys.argv[2] == "rasa" else echo_app()
        app.get("/health")(lambda: {"status": "ok"})
        uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[3]), log_level="warning")
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--sockets", type=int, default=500)
        parser.add_argument("--clients", type=int, default=20)
        parser.add_argument("--turns", type=int, default=20)
        asyncio.run(main(parser.parse_args()))
