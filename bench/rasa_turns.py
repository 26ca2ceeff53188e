"""Rasa turn latency: guest conversations through Rasa's REST channel, one turn at a time.

    PYTHONPATH=. .venv/bin/python bench/rasa_turns.py [--rasa-url http://127.0.0.1:5005]
        [--conversations 40] [--long-turns 40]

Needs a running system (`make run`: Rasa and the action server); says so and exits 0
when nothing answers at --rasa-url. Two measurements, each a median and p95 over single
`POST /webhooks/rest/webhook` turns sent one after another:

- short: --conversations conversations of five turns (greeting, two support questions,
  one out-of-scope, thanks), each under a new sender;
- long: one conversation of --long-turns turns, the same five repeated, where the rule
  lookup's cost used to grow with the history (bot/components/rule_policy.py).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid

import httpx

TURNS = (
    "hi",
    "how do I activate my new card?",
    "my card payment was declined",
    "what's the weather like tomorrow",
    "thanks, bye",
)


def turn(client: httpx.Client, sender: str, text: str) -> float:
    started = time.perf_counter()
    response = client.post(
        "/webhooks/rest/webhook", json={"sender": sender, "message": text, "metadata": {}}
    )
    elapsed = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    if not response.json():
        raise RuntimeError(f"no reply to {text!r}")
    return elapsed


def summary(name: str, latencies: list[float]) -> str:
    p95 = statistics.quantiles(latencies, n=20)[-1]
    p50 = statistics.median(latencies)
    return f"{name:>6} turns={len(latencies):>4}  p50={p50:6.1f} ms  p95={p95:6.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rasa-url", default="http://127.0.0.1:5005")
    parser.add_argument("--conversations", type=int, default=40)
    parser.add_argument("--long-turns", type=int, default=40)
    args = parser.parse_args()
    token = os.environ.get("RASA_AUTH_TOKEN", "dev-rasa-token")  # bot/channels.py
    with httpx.Client(
        base_url=args.rasa_url, timeout=30, headers={"X-Rasa-Token": token}
    ) as client:
        try:
            client.get("/")
        except httpx.HTTPError:
            print(f"rasa_turns: nothing answers at {args.rasa_url}; start `make run` first")
            return 0
        for text in TURNS:  # warm-up
            turn(client, "bench-warmup", text)
        short = [
            turn(client, sender, text)
            for sender in (f"bench-{uuid.uuid4()}" for _ in range(args.conversations))
            for text in TURNS
        ]
        sender = f"bench-{uuid.uuid4()}"
        long = [turn(client, sender, TURNS[i % len(TURNS)]) for i in range(args.long_turns)]
    print(summary("short", short))
    print(summary("long", long))
    return 0


if __name__ == "__main__":
    sys.exit(main())
