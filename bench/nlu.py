"""NLU parse latency over HTTP: starts Rasa (`rasa run --enable-api`) with the current
model on a free port, sends single `POST /model/parse` requests one after another
(texts from BANKING77, the project's task and out-of-scope sets), prints p50/p95/p99.

    PYTHONPATH=. .venv/bin/python bench/nlu.py [--requests 500]
"""

import argparse
import csv
import os
import random
import signal
import socket
import statistics
import subprocess
import time
from pathlib import Path

import httpx

from scripts.train import ensure_trained

ROOT = Path(__file__).resolve().parent.parent
CSV = ROOT.parent / "shared" / "data" / "banking77" / "train.csv"


def texts(count: int) -> list[str]:
    with CSV.open(newline="") as handle:
        pool = [" ".join(row["text"].split()) for row in csv.DictReader(handle)]
    pool += (ROOT / "tests" / "nlu" / "out_of_scope_eval.txt").read_text().splitlines()
    random.Random(7).shuffle(pool)  # noqa: S311 (a fixed sample, not a secret)
    return [t for t in pool if t][:count]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "ACTION_ENDPOINT_URL": "http://127.0.0.1:5055/webhook",
        "ACTION_SERVER_TOKEN": "unused",
        "PYTHONPATH": str(ROOT),
    }
    # bot.server: `rasa run --enable-api` with RASA_AUTH_TOKEN (its default here).
    rasa = subprocess.Popen(  # noqa: S603
        [
            str(ROOT / ".venv-rasa/bin/python"),
            "-m",
            "bot.server",
            "-i",
            "127.0.0.1",
            "--port",
            str(port),
            "--model",
            str(ensure_trained()),
            "--credentials",
            "bot/credentials.yml",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        token = os.environ.get("RASA_AUTH_TOKEN", "dev-rasa-token")
        with httpx.Client(base_url=url, timeout=30, params={"token": token}) as client:
            for _ in range(600):
                try:
                    client.get("/")
                    break
                except httpx.HTTPError:
                    time.sleep(0.5)
            for text in texts(20):  # warm-up
                client.post("/model/parse", json={"text": text})
            latencies = []
            for text in texts(args.requests):
                started = time.perf_counter()
                client.post("/model/parse", json={"text": text}).raise_for_status()
                latencies.append((time.perf_counter() - started) * 1000)
        ordered = sorted(latencies)
        pick = lambda q: ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]  # noqa: E731
        print(f"POST /model/parse, {len(latencies)} sequential requests over HTTP (keep-alive)")
        print(
            f"p50 {statistics.median(latencies):.1f} ms  p95 {pick(0.95):.1f} ms  "
            f"p99 {pick(0.99):.1f} ms  max {ordered[-1]:.1f} ms"
        )
    finally:
        os.killpg(rasa.pid, signal.SIGTERM)
        rasa.wait(30)


if __name__ == "__main__":
    main()
