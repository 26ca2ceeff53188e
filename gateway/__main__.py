"""``python -m gateway``: serve the gateway on GATEWAY_HOST:GATEWAY_PORT."""

from __future__ import annotations

import uvicorn

from gateway.settings import get_settings


def main() -> None:
    settings = get_settings()
    uvicorn.run("gateway.app:app", host=settings.gateway_host, port=settings.gateway_port,
                log_level="info", **settings.uvicorn_options())  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
