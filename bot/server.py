"""``python -m bot.server [rasa run options]``: ``rasa run`` with the stack's credentials.

The HTTP API (``--enable-api``) gets ``--auth-token`` from RASA_AUTH_TOKEN, and the REST
channel (``bot/channels.py``) checks the same secret, so nothing on this server answers
a caller without it except ``GET /`` (health). The token is read from the environment
inside the process, never put on a command line, where any local user could read it
in ``ps``. With APP_ENV=production the development default is refused.
"""

from __future__ import annotations

import logging
import os
import sys

from bot.channels import DEFAULT_RASA_AUTH_TOKEN, auth_token
from bot.observability import configure_logging


def rasa_argv(args: list[str]) -> list[str]:
    token = auth_token()
    if os.environ.get("APP_ENV") == "production" and token == DEFAULT_RASA_AUTH_TOKEN:
        raise SystemExit("RASA_AUTH_TOKEN must be set to a non-default value in production")
    return ["rasa", "run", "--enable-api", *args, "--auth-token", token]


def keep_json_logging(loglevel: object = None) -> None:
    """Stands in for ``rasa.utils.io.configure_colored_logging``: the level only."""
    level = loglevel or os.environ.get("LOG_LEVEL", "INFO")
    logging.getLogger().setLevel(level if isinstance(level, int) else str(level).upper())


def main() -> None:
    # Rasa's CLI reads sys.argv; /proc/<pid>/cmdline keeps what the process was started
    # with, so the token does not show there.
    sys.argv = rasa_argv(sys.argv[1:])
    configure_logging("rasa")  # JSON lines (contract), before Rasa logs anything
    import rasa.utils.io
    from rasa.__main__ import main as rasa_main

    # Rasa's CLI would replace the JSON handler by coloredlogs' plain text on stderr.
    rasa.utils.io.configure_colored_logging = keep_json_logging

    rasa_main()


if __name__ == "__main__":
    main()
