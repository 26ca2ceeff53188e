"""Fuzz: 10,000 random and malformed frames on one socket. The gateway must answer each
recoverable error without closing, never answer ``internal``, and stay usable."""

from __future__ import annotations

import json
import random
import string
from typing import Any

from tests.gateway.conftest import ServerThread
from tests.gateway.test_ws import hello, recv, socket

FRAMES = 10_000
BATCH = 200


def random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 2**63, 1.5, float("1e308"), rng.randrange(-(10**6), 10**6)])
    if kind in (3, 4, 5):
        alphabet = string.printable + "é€😀\u202e\x00"
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 80)))
    if kind in (6, 7):
        return {
            rng.choice(
                ["type", "text", "payload", "client_msg_id", "token", "session_id", "last_seq", "x"]
            ): random_value(rng, depth + 1)
            for _ in range(rng.randrange(0, 5))
        }
    return [random_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))]


def random_frame(rng: random.Random) -> str | bytes:
    roll = rng.random()
    if roll < 0.05:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 50)))
    if roll < 0.15:
        return "".join(rng.choice(string.printable) for _ in range(rng.randrange(0, 60)))
    if roll < 0.17:
        return json.dumps({"type": "ping", "pad": "x" * rng.randrange(16_000, 20_000)})
    if roll < 0.18:
        return json.dumps({"type": "message", "client_msg_id": str(rng.random()), "text": "fuzz"})
    frame = random_value(rng)
    if isinstance(frame, dict) and rng.random() < 0.7:
        frame["type"] = rng.choice(["hello", "message", "ping", "pong", "", "bot", 7, None])
    return json.dumps(frame)


async def test_ten_thousand_bad_frames(gateway: ServerThread) -> None:
    rng = random.Random(20240601)
    codes: dict[str, int] = {}
    async with socket(gateway, max_size=None) as ws:
        await hello(ws)
        for start in range(0, FRAMES, BATCH):
            sent = min(BATCH, FRAMES - start)
            for _ in range(sent):
                await ws.send(random_frame(rng))
            await ws.send(json.dumps({"type": "ping"}))
            # The reader answers every frame with exactly one error, pong or ack (the
            # bot's typing/bot frames for accepted messages come on top, unordered).
            answers = 0
            while answers < sent + 1:
                frame = await recv(ws)
                assert frame.get("code") not in ("internal", "unavailable"), frame
                if frame["type"] == "error":
                    codes[frame["code"]] = codes.get(frame["code"], 0) + 1
                answers += frame["type"] in ("error", "pong", "ack")
        # Still usable after all of it.
        await ws.send(json.dumps({"type": "ping"}))
        while (await recv(ws))["type"] != "pong":
            pass
    assert codes["bad_request"] > FRAMES // 2
    assert codes["too_large"] > 0
