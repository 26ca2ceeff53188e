"""scripts.ports: the ports the test stacks start their servers on."""

from __future__ import annotations

import socket

import pytest

from scripts import ports


def test_ports_are_free_distinct_and_below_the_ephemeral_range() -> None:
    picked = [ports.free_port() for _ in range(50)]
    assert len(set(picked)) == len(picked)
    # Outgoing connections take their local ports from the ephemeral range: a port
    # there could be taken between the pick and the server's bind.
    assert all(port < ports._ephemeral_start() for port in picked)
    for port in picked[:5]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # nothing holds it


def test_a_port_in_use_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        busy = int(listening.getsockname()[1])
        candidates = iter([busy, busy, 12345 if busy != 12345 else 12346])
        monkeypatch.setattr(ports.random, "randint", lambda _low, _high: next(candidates))
        monkeypatch.setattr(ports, "_ephemeral_start", lambda: 65000)
        monkeypatch.setattr(ports, "_handed_out", set())
        assert ports.free_port() in (12345, 12346)
