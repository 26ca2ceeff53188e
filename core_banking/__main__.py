"""`python -m core_banking` runs the API with uvicorn on CORE_BANKING_HOST:CORE_BANKING_PORT,
in CORE_BANKING_WORKERS processes (default: one per CPU core)."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from core_banking.app import create_app
from core_banking.observability.tracing import configure_logging, configure_tracing
from core_banking.settings import get_settings


def production_app() -> FastAPI:
    """uvicorn's app factory, run in every worker process: each configures its own
    JSON logging and tracing (worker processes are spawned, they inherit neither)."""
    configure_logging("core_banking")
    configure_tracing("core_banking")
    return create_app()


def main() -> None:
    configure_logging("core_banking")
    settings = get_settings()
    uvicorn.run(
        "core_banking.__main__:production_app",
        factory=True,
        host=settings.core_banking_host,
        port=settings.core_banking_port,
        workers=settings.core_banking_workers,
        # X-Forwarded-For only from the proxies named (none by default): otherwise any
        # local caller could choose the address the audit log and lockouts see.
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
        log_config=None,  # uvicorn's loggers keep the JSON handler configured above
    )


if __name__ == "__main__":
    main()
