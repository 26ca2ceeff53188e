"""Scale-out on one machine (`make run-scaled`): replicas of the gateway, Rasa and the
action server behind HAProxy, all sharing Redis and the database.

    HAProxy :8080 (LB_PORT)        -> gateways :8000, :8010, …  (WebSockets, X-Forwarded-For)
    HAProxy :5004 (RASA_LB_PORT)   -> Rasa :5005, :5006, …      (the gateways' RASA_URL)
    HAProxy :5054 (ACTIONS_LB_PORT) -> actions :5055, :5056, …  (Rasa's ACTION_ENDPOINT_URL)

Any Rasa may take any turn of any conversation: trackers and locks live in Redis
(bot/endpoints.yml), so a conversation moves between instances turn by turn, and one
that dies is taken out by HAProxy's health checks (1 s apart, out after 2 misses) while
connection failures are sent to the other instance at once (`option redispatch`).
Rasa's calls to the action server are also retried on the other instance when one dies
with the request in hand (no or a broken answer, 502-504): Rasa itself never retries an
action call (it logs "the actions events are lost" and the customer gets no answer,
seen in the chaos run), and every action may run twice for one turn because the ones
that move money send an Idempotency-Key derived from the turn.
HAProxy is Debian's `haproxy` package (scripts/ensure_haproxy.sh installs it).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

HOST = "127.0.0.1"


class ServiceFactory(Protocol):
    def __call__(
        self, name: str, command: list[str], health_url: str, env: dict[str, str]
    ) -> object: ...


@dataclass(frozen=True)
class Balancer:
    name: str
    port: int
    health_path: str
    servers: list[tuple[str, int]]
    forwarded_for: bool = False  # the public frontend: clients' addresses to the gateways
    # Retry a request the server took but did not answer (it died) on another server:
    # only for a tier whose requests are safe to run twice (the action server).
    retry_unanswered: bool = False


# HAProxy keeps a request for an L7 retry only if it fits one buffer (16 kB by default);
# an action call carries the conversation's tracker, so buffers are larger.
BUFFER_BYTES = 256 * 1024
RETRY_ON = "conn-failure empty-response junk-response response-timeout 502 503 504"


@dataclass(frozen=True)
class LbPorts:
    gateway: int
    rasa: int
    actions: int
    monitor: int  # GET /ready: 200 once every server of every tier is up

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LbPorts:
        return cls(
            gateway=int(env.get("LB_PORT", 8080)),
            rasa=int(env.get("RASA_LB_PORT", 5004)),
            actions=int(env.get("ACTIONS_LB_PORT", 5054)),
            monitor=int(env.get("LB_MONITOR_PORT", 8081)),
        )


def haproxy_config(balancers: list[Balancer], monitor_port: int) -> str:
    """One frontend and backend per balancer; WebSockets pass (long tunnel timeout).
    ``/ready`` on the monitor port answers 200 only when HAProxy's own health checks
    found every server up: a server starts down until its checks pass, so without it
    the first turns after a start would find no Rasa."""
    lines = [
        "global",
        "    maxconn 8192",
        f"    tune.bufsize {BUFFER_BYTES}",
        "defaults",
        "    mode http",
        "    timeout connect 2s",
        "    timeout client 1h",
        "    timeout server 1h",
        "    timeout tunnel 1h",
        "    retries 2",
        "    option redispatch",
        "    default-server inter 1s fall 2 rise 2",
    ]
    for lb in balancers:
        lines += [
            f"frontend {lb.name}",
            f"    bind {HOST}:{lb.port}",
            f"    default_backend {lb.name}_servers",
        ]
        if lb.forwarded_for:
            lines.append("    option forwardfor")
        lines += [
            f"backend {lb.name}_servers",
            "    balance roundrobin",
            f"    option httpchk GET {lb.health_path}",
        ]
        if lb.retry_unanswered:
            lines += [
                "    option http-buffer-request",  # the whole body kept: it can be resent
                f"    retry-on {RETRY_ON}",
                f"    retries {len(lb.servers) + 1}",
            ]
        lines += [f"    server {name} {HOST}:{port} check" for name, port in lb.servers]
    missing = " || ".join(
        f"{{ nbsrv({lb.name}_servers) lt {len(lb.servers)} }}" for lb in balancers
    )
    lines += [
        "frontend monitor",
        f"    bind {HOST}:{monitor_port}",
        "    monitor-uri /ready",
        f"    monitor fail if {missing}",
    ]
    return "\n".join(lines) + "\n"


def haproxy_binary() -> str:
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(binary).exists():
        raise RuntimeError(
            "haproxy is not installed: `apt-get install haproxy` "
            "(scripts/ensure_haproxy.sh does it for make run-scaled)"
        )
    return binary
