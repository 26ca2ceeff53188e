"""The HAProxy configuration `make run-scaled` writes (scripts/scaled.py) is valid for
the installed HAProxy, balances each tier over its replicas and waits for all of them."""

import shutil
import subprocess
from pathlib import Path

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
