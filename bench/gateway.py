"""Gateway benchmark: idle sockets and RSS per socket, turns/s against a stub bot
compared with a bare FastAPI WebSocket echo server, and the latency the gateway adds
over calling Rasa's REST channel directly: against the stub (the gateway's own cost in
ms) and, with ``--rasa-url``, against a real running Rasa (the issue's ratio).

    PYTHONPATH=. .venv/bin/python bench/gateway.py [--sockets 10000] [--socket-procs 4]
        [--clients 20] [--turns 50] [--latency-turns 200] [--gateway-root DIR]
        [--rasa-url http://127.0.0.1:5005 --real-turns 200]

With ``--rasa-url`` (e.g. while ``make run`` is up) a second gateway is started against
that Rasa, and one client alternates a turn through that gateway with the same message
posted straight to Rasa's webhook (as a guest, with the metadata the gateway sends), so
both see the same Rasa, the same conversation lengths and the same machine load. The
gateway's transcript writer also reads Rasa's tracker after each turn; that cost stays
in, as it is part of the gateway's design. A Rasa that does not answer is reported and
skipped.

(b) also prints a ceiling: an echo server that asks the same stub bot over HTTP once per
frame and nothing else. No gateway that calls its bot over HTTP can beat it, so its
ratio to the bare echo server bounds what (b) can reach on the machine.

``--sockets 0`` skips the idle-socket part; ``--clients 0`` skips (b) and the stub part of
(c); the real-Rasa part runs only with ``--rasa-url`` (``--real-turns 0`` skips it).
Needs Redis at REDIS_URL (default redis://127.0.0.1:6379/0); uses a throwaway key
prefix, RSA key and SQLite transcript file. Servers run as separate processes so the
RSS figures are the gateway's own; idle sockets are opened by ``--socket-procs``
client processes (each an asyncio websockets client that sends ``hello``, waits for
``welcome`` and stays idle). RLIMIT_NOFILE is raised to the hard limit in this process
before anything is started, so every child (gateway, stubs, socket holders) inherits
it. Everything is loopback; every loop is bounded. Numbers are for comparison on one
machine only (the stubs, the client and Redis share its cores with the gateway).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
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
from websockets.asyncio.client import ClientConnection, connect

from scripts.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
GIB_KIB = 1024 * 1024
OPEN_TIMEOUT = 300.0  # seconds a socket holder may take to open its share

# Rasa's REST channel refuses callers without the stack's token (bot/channels.py).
RASA_HEADERS = {"X-Rasa-Token": os.environ.get("RASA_AUTH_TOKEN", "dev-rasa-token")}


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


def echo_via_bot_app(rasa_url: str) -> FastAPI:
    """The ceiling for (b): the echo server, but each frame's answer comes from the stub
    bot over HTTP (aiohttp, one pooled session, as the gateway calls Rasa). Nothing else:
    no auth, Redis, seq, storage, typing frames or fan-out. No gateway that calls its bot
    over HTTP can do a turn for less on this machine."""
    import aiohttp

    app = FastAPI()
    state: dict[str, aiohttp.ClientSession] = {}

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        if "http" not in state:
            state["http"] = aiohttp.ClientSession()
        await websocket.accept()
        while True:
            frame = json.loads(await websocket.receive_text())
            async with state["http"].post(
                f"{rasa_url}/webhooks/rest/webhook",
                json={"sender": "ceiling", "message": frame.get("text")},
            ) as response:
                replies = await response.json()
            await websocket.send_text(json.dumps({"type": "bot", "text": replies[0]["text"]}))

    return app


def raise_nofile() -> tuple[int, int]:
    """Soft RLIMIT_NOFILE up to the hard limit (inherited by every child process)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1_048_576)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def proc_nofile(pid: int) -> str:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return "/".join(line.split()[3:5])
    return "?"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process so far (robust to a busy machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def start(
    args: list[str], env: dict[str, str], port: int, cwd: Path = ROOT, log: Path | None = None
) -> subprocess.Popen[bytes]:
    out = log.open("wb") if log is not None else subprocess.DEVNULL
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, *args],
        env=env,
        cwd=cwd,
        stdout=out,
        stderr=out,
    )
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
                await ws.send(
                    json.dumps(
                        {"type": "message", "client_msg_id": uuid.uuid4().hex, "text": "hello"}
                    )
                )
                while json.loads(await ws.recv())["type"] != "bot":
                    pass
                latencies.append(time.perf_counter() - started)
            if gateway:  # let the trailing typing-off arrive before closing
                await asyncio.wait_for(ws.recv(), 5)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return clients * per_client / (time.perf_counter() - started), latencies


REAL_MESSAGES = (
    "hello",
    "how do I activate my card?",
    "what are your exchange rates?",
    "my card payment was declined",
    "thanks, bye",
)


async def real_rasa(gateway_url: str, rasa_url: str, count: int) -> tuple[list[float], list[float]]:
    """Alternating turns: via the gateway (until the first bot frame) and straight to
    Rasa's REST channel, same message, each in its own new conversation every 5 turns."""
    via: list[float] = []
    direct: list[float] = []
    async with httpx.AsyncClient(base_url=rasa_url, timeout=60, headers=RASA_HEADERS) as http:
        ws: ClientConnection | None = None
        sender = ""
        try:
            for i in range(count):
                text = REAL_MESSAGES[i % len(REAL_MESSAGES)]
                if i % len(REAL_MESSAGES) == 0:  # a fresh conversation on both paths
                    if ws is not None:
                        await ws.close()
                    ws = await connect(gateway_url, max_size=None)
                    await ws.send(json.dumps({"type": "hello"}))
                    sid = json.loads(await ws.recv())["session_id"]
                    sender = f"bench-direct-{uuid.uuid4().hex}"
                assert ws is not None
                cmid = uuid.uuid4().hex
                started = time.perf_counter()
                await ws.send(json.dumps({"type": "message", "client_msg_id": cmid, "text": text}))
                while json.loads(await ws.recv())["type"] != "bot":
                    pass
                via.append(time.perf_counter() - started)
                while json.loads(await ws.recv()) != {"type": "typing", "state": "off"}:
                    pass  # the rest of the turn, so it does not overlap the direct call
                metadata = {
                    "customer_id": None,
                    "display_name": None,
                    "session_id": sid,
                    "client_msg_id": cmid,
                }
                started = time.perf_counter()
                response = await http.post(
                    "/webhooks/rest/webhook",
                    json={"sender": sender, "message": text, "metadata": metadata},
                )
                response.raise_for_status()
                direct.append(time.perf_counter() - started)
        finally:
            if ws is not None:
                await ws.close()
    return via, direct


async def direct_rasa(url: str, count: int) -> list[float]:
    out = []
    async with httpx.AsyncClient(base_url=url, headers=RASA_HEADERS) as http:
        for _ in range(count):
            started = time.perf_counter()
            await http.post("/webhooks/rest/webhook", json={"sender": "b", "message": "hello"})
            out.append(time.perf_counter() - started)
    return out


# --- idle sockets ----------------------------------------------------------------------


async def hold(url: str, count: int, batch: int) -> None:
    """Socket holder (child process): open ``count`` idle chat sockets, ``batch`` at a
    time, print ``ready <n>``, keep them until stdin closes or says anything."""
    sockets: list[ClientConnection] = []

    async def one() -> ClientConnection:
        ws = await connect(url, open_timeout=60, ping_interval=None, max_queue=4)
        await ws.send('{"type": "hello"}')
        first = json.loads(await ws.recv())
        if first.get("type") != "welcome":  # e.g. the hello deadline passed under load
            await ws.close()
            raise RuntimeError(f"no welcome: {first}")
        return ws

    failed = 0
    for start_at in range(0, count, batch):
        got = await asyncio.gather(
            *(one() for _ in range(min(batch, count - start_at))), return_exceptions=True
        )
        sockets += [ws for ws in got if isinstance(ws, ClientConnection)]
        errors = [ws for ws in got if not isinstance(ws, ClientConnection)]
        if errors and not failed:
            print(f"first failure: {errors[0]!r}", file=sys.stderr, flush=True)
        failed += len(errors)
    print(f"ready {len(sockets)} {failed}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    for i in range(0, len(sockets), batch):
        await asyncio.gather(*(ws.close() for ws in sockets[i : i + batch]), return_exceptions=True)


def idle_sockets(
    url: str, count: int, procs: int, batch: int, pid: int, env: dict[str, str]
) -> dict[str, float]:
    # One warm-up socket first, so one-time costs (imports, pools) are in the baseline.
    asyncio.run(_one_socket(url))
    time.sleep(1)
    before = rss_kib(pid)
    shares = [count // procs + (1 if i < count % procs else 0) for i in range(procs)]
    started = time.perf_counter()
    holders = [
        subprocess.Popen(  # noqa: S603
            [sys.executable, __file__, "--hold", url, str(n), str(batch)],
            env=env,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in shares
        if n
    ]
    opened = failed = 0
    try:
        for holder in holders:
            assert holder.stdout is not None
            line = holder.stdout.readline().split()  # blocks until that holder is ready
            if len(line) == 3 and line[0] == "ready":
                opened += int(line[1])
                failed += int(line[2])
        took = time.perf_counter() - started
        time.sleep(2)
        after = rss_kib(pid)
        fds = open_fds(pid)
    finally:
        for holder in holders:
            assert holder.stdin is not None
            holder.stdin.close()
        for holder in holders:
            try:
                holder.wait(timeout=OPEN_TIMEOUT)
            except subprocess.TimeoutExpired:
                holder.kill()
    return {
        "opened": opened,
        "failed": failed,
        "before": before,
        "after": after,
        "fds": fds,
        "open_seconds": took,
    }


async def _one_socket(url: str) -> None:
    async with connect(url) as ws:
        await ws.send('{"type": "hello"}')
        await ws.recv()


def real_latency(
    opts: argparse.Namespace, env: dict[str, str], tmp: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    """(c) against a real Rasa: a second gateway pointed at it (see the module doc)."""
    try:
        httpx.get(opts.rasa_url, timeout=5).raise_for_status()
    except httpx.HTTPError as exc:
        print(f"(c) real Rasa: skipped, {opts.rasa_url} does not answer ({exc!r})")
        return
    port = free_port()
    procs.append(
        start(
            ["-m", "gateway"],
            {
                **env,
                "PYTHONPATH": str(opts.gateway_root),
                "RASA_URL": opts.rasa_url,
                "GATEWAY_PORT": str(port),
            },
            port,
            cwd=opts.gateway_root,
            log=tmp / "gateway-real.log",
        )
    )
    via, direct = asyncio.run(
        real_rasa(f"ws://127.0.0.1:{port}/ws", opts.rasa_url, opts.real_turns)
    )
    v, d = statistics.median(via), statistics.median(direct)
    v95, d95 = (sorted(x)[int(len(x) * 0.95)] for x in (via, direct))
    print(
        f"(c) real Rasa at {opts.rasa_url}, {len(via)} alternating turns: median via "
        f"gateway {v * 1000:.1f} ms, Rasa REST directly {d * 1000:.1f} ms, ratio "
        f"{v / d:.3f} (target <= 1.05), added {(v - d) * 1000:.1f} ms; p95 "
        f"{v95 * 1000:.1f} vs {d95 * 1000:.1f} ms"
    )


def main(opts: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.gateway.conftest import make_private_key_pem

    soft, hard = raise_nofile()
    print(f"RLIMIT_NOFILE: {soft} (hard limit {hard}), inherited by the gateway and clients")
    need = opts.sockets + 1000
    if opts.sockets and hard < need:
        print(
            f"  warning: the hard limit {hard} is below the ~{need} descriptors the "
            f"gateway needs for {opts.sockets} sockets; raise it (ulimit -Hn) as root"
        )

    tmp = Path(tempfile.mkdtemp(prefix="gwbench-"))
    (tmp / "key.pem").write_text(make_private_key_pem())
    ports = {name: free_port() for name in ("rasa", "echo", "ceiling", "gateway")}
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "JWT_PRIVATE_KEY_FILE": str(tmp / "key.pem"),
        "REDIS_KEY_PREFIX": f"gwbench-{uuid.uuid4().hex[:8]}:",
        "APP_ENV": "test",
        "RASA_URL": f"http://127.0.0.1:{ports['rasa']}",
        "GATEWAY_PORT": str(ports["gateway"]),
        "TRANSCRIPT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/t.sqlite3",
        "RATE_SESSION_MESSAGES": "1000000",
        "RATE_USER_MESSAGES": "1000000",
    }
    procs = [
        start([__file__, "--serve", "rasa", str(ports["rasa"])], env, ports["rasa"]),
        start([__file__, "--serve", "echo", str(ports["echo"])], env, ports["echo"]),
        start([__file__, "--serve", "ceiling", str(ports["ceiling"])], env, ports["ceiling"]),
        start(
            ["-m", "gateway"],
            {**env, "PYTHONPATH": str(opts.gateway_root)},
            ports["gateway"],
            cwd=opts.gateway_root,
            log=tmp / "gateway.log",
        ),
    ]
    print(f"gateway log: {tmp / 'gateway.log'}")
    gw_pid = procs[3].pid
    print(f"gateway pid {gw_pid}: RLIMIT_NOFILE soft/hard {proc_nofile(gw_pid)}")
    try:
        gw, echo = (f"ws://127.0.0.1:{ports[p]}/ws" for p in ("gateway", "echo"))
        if opts.sockets:
            r = idle_sockets(gw, opts.sockets, opts.socket_procs, opts.batch, gw_pid, env)
            per = (r["after"] - r["before"]) / max(1, r["opened"])
            at_10k = r["before"] + per * 10_000
            print(
                f"(a) idle sockets: {int(r['opened'])} open ({int(r['failed'])} failed) "
                f"from {opts.socket_procs} client processes in {r['open_seconds']:.1f} s; "
                f"gateway fds {int(r['fds'])}; gateway RSS {int(r['before'])} -> "
                f"{int(r['after'])} KiB = {per:.1f} KiB per socket; "
                f"{r['after'] / 1024:.0f} MiB total; "
                f"10,000 sockets {'<' if at_10k < GIB_KIB else '>='} 1 GiB "
                f"({at_10k / 1024:.0f} MiB)"
            )
        if opts.clients:
            cpu_before = cpu_seconds(gw_pid)
            rate, gw_lat = asyncio.run(turns(gw, opts.clients, opts.turns, gateway=True))
            time.sleep(2)  # let the transcript writer catch up: its work is per turn too
            cpu_ms = (cpu_seconds(gw_pid) - cpu_before) * 1000 / (opts.clients * opts.turns)
            echo_rate, _ = asyncio.run(turns(echo, opts.clients, opts.turns, gateway=False))
            ceiling_rate, _ = asyncio.run(
                turns(
                    f"ws://127.0.0.1:{ports['ceiling']}/ws", opts.clients, opts.turns, gateway=False
                )
            )
            print(
                f"(b) turns/s, {opts.clients} clients x {opts.turns} turns: gateway+stub bot "
                f"{rate:.0f}, bare echo server {echo_rate:.0f}, ratio "
                f"{rate / echo_rate:.3f} (target >= 0.5); gateway p50/p95 under load "
                f"{statistics.median(gw_lat) * 1000:.1f}/"
                f"{sorted(gw_lat)[int(len(gw_lat) * 0.95)] * 1000:.1f} ms; gateway CPU "
                f"{cpu_ms:.2f} ms per turn"
            )
            print(
                f"    ceiling: an echo server that asks the stub bot over HTTP per frame "
                f"(nothing else) {ceiling_rate:.0f} turns/s, {ceiling_rate / echo_rate:.3f} "
                f"x echo; the gateway is {rate / ceiling_rate:.3f} x that ceiling"
            )
            _, single = asyncio.run(turns(gw, 1, opts.latency_turns, gateway=True))
            direct = asyncio.run(
                direct_rasa(f"http://127.0.0.1:{ports['rasa']}", opts.latency_turns)
            )
            via, bare = statistics.median(single), statistics.median(direct)
            print(
                f"(c) median latency, one client, {opts.latency_turns} turns: via gateway "
                f"{via * 1000:.2f} ms, stub Rasa directly {bare * 1000:.2f} ms, ratio "
                f"{via / bare:.2f}, added {(via - bare) * 1000:.2f} ms"
            )
        if opts.rasa_url and opts.real_turns:
            real_latency(opts, env, tmp, procs)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
        client = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
        keys = list(client.scan_iter(match=f"{env['REDIS_KEY_PREFIX']}*", count=1000))
        for i in range(0, len(keys), 1000):
            client.delete(*keys[i : i + 1000])
        client.close()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        app = {
            "rasa": stub_rasa_app,
            "echo": echo_app,
            "ceiling": lambda: echo_via_bot_app(os.environ["RASA_URL"]),
        }[sys.argv[2]]()
        app.get("/health")(lambda: {"status": "ok"})
        uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[3]), log_level="warning")
    elif len(sys.argv) == 5 and sys.argv[1] == "--hold":
        asyncio.run(hold(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument(
            "--sockets", type=int, default=10_000, help="idle sockets to hold open (0: skip)"
        )
        parser.add_argument(
            "--socket-procs", type=int, default=4, help="client processes sharing the idle sockets"
        )
        parser.add_argument(
            "--batch", type=int, default=100, help="sockets each client process opens at once"
        )
        parser.add_argument(
            "--clients", type=int, default=20, help="concurrent chat clients for turns/s (0: skip)"
        )
        parser.add_argument("--turns", type=int, default=50, help="turns per client")
        parser.add_argument(
            "--latency-turns",
            type=int,
            default=200,
            help="sequential turns of one client for the latency ratio",
        )
        parser.add_argument(
            "--gateway-root",
            type=Path,
            default=ROOT,
            help="directory whose gateway/ package is benchmarked, e.g. "
            "`git archive HEAD gateway | tar -x -C DIR` for a "
            "before/after comparison in the same run conditions",
        )
        parser.add_argument(
            "--rasa-url",
            default="",
            help="a running Rasa (e.g. http://127.0.0.1:5005 under `make "
            "run`) for the latency ratio against the real bot",
        )
        parser.add_argument(
            "--real-turns", type=int, default=200, help="alternating turns against --rasa-url"
        )
        main(parser.parse_args())
