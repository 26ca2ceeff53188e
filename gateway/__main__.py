"""``python -m gateway``: serve the gateway on GATEWAY_HOST:GATEWAY_PORT."""

from __future__ import annotations

import uvicorn

from gateway.observability import configure_logging, configure_tracing
from gateway.settings import get_settings


def main() -> None:
    configure_logging("gateway")
    configure_tracing("gateway")
    settings = get_settings()
    # log_config=None: uvicorn's loggers keep the JSON handler configured above.
    uvicorn.run(
        "gateway.app:app",
        host=settings.gateway_host,
        port=settings.gateway_port,
        log_level="info",
        log_config=None,
        **settings.uvicorn_options(),
    )


if __name__ == "__main__":
    main()
