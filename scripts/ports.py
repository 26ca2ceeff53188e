"""Free TCP ports on 127.0.0.1 for the servers that scripts, benches and tests start.

`free_port()` returns a port nothing listens on, picked below the kernel's ephemeral
range (`/proc/sys/net/ipv4/ip_local_port_range`, 32768-60999 by default). Asking the
kernel for port 0 would give one inside that range, which any outgoing connection of any
process (a client to PostgreSQL, Redis, RabbitMQ...) can take between the pick and the
server's bind: seen as "address already in use" when tests/e2e/test_scaled.py started
its second Rasa. Ports handed out by this process are not handed out again, so the
servers of one stack never share a pick. Standard library only (both virtualenvs).
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST = 10000  # above the usual fixed service ports (5005, 5432, 8080, 9090, ...)
_handed_out: set[int] = set()


def _ephemeral_start() -> int:
    try:
        return int(_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    highest = _ephemeral_start() - 1
    if highest - _LOWEST >= 1000:
        for _ in range(500):
            port = random.randint(_LOWEST, highest)  # noqa: S311 - not a secret
            if port not in _handed_out and _bindable(port):
                _handed_out.add(port)
                return port
    # No room below the ephemeral range (an unusual kernel setting): the kernel's pick.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    _handed_out.add(port)
    return port
