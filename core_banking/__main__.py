"""`python -m core_banking` runs the API with uvicorn on CORE_BANKING_HOST:CORE_BANKING_PORT."""

from __future__ import annotations

import uvicorn

from core_banking.observability.tracing import configure_logging, configure_tracing
from core_banking.settings import get_settings


def main() -> None:
    configure_logging("core_banking")
    configure_tracing("core_banking")
    settings = get_settings()
    uvicorn.run(
        "core_banking.app:app",
        host=settings.core_banking_host,
        port=settings.core_banking_port,
        # X-Forwarded-For only from the proxies named (none by default): otherwise any
        # local caller could choose the address the audit log and lockouts see.
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
        log_config=None,  # uvicorn's loggers keep the JSON handler configured above
    )


if __name__ == "__main__":
    main()
