"""`python -m core_banking.migrate [revision]`: bring DATABASE_URL's schema to head (default)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from core_banking.db import create_engine
from core_banking.settings import Settings, get_settings

_HERE = Path(__file__).resolve().parent
Action = Callable[[Config], None]


def alembic_config() -> Config:
    config = Config(str(_HERE / "alembic.ini"))
    # Absolute path: works whatever the current directory is.
    config.set_main_option("script_location", str(_HERE / "migrations"))
    return config


async def upgrade(settings: Settings, revision: str = "head") -> None:
    await _run(settings, lambda cfg: command.upgrade(cfg, revision))


async def downgrade(settings: Settings, revision: str) -> None:
    await _run(settings, lambda cfg: command.downgrade(cfg, revision))


async def _run(settings: Settings, action: Action) -> None:
    # Hand Alembic an open connection (the documented async recipe) so this also works
    # from inside a running event loop, e.g. test fixtures, and uses our engine setup.
    engine = create_engine(settings)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_with_connection, action, settings)
    finally:
        await engine.dispose()


def _with_connection(connection: Connection, action: Action, settings: Settings) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    config.attributes["settings"] = settings  # data migrations encrypt with its keys
    action(config)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("revision", nargs="?", default="head")
    args = parser.parse_args(argv)
    settings = get_settings()
    asyncio.run(upgrade(settings, args.revision))
    print(f"core_banking: database migrated to {args.revision}")


if __name__ == "__main__":
    main()
