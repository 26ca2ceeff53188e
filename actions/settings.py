"""Settings of the action server, read from the environment.

Rasa 3.6 pins pydantic 1.x, so this is pydantic's v1 `BaseSettings`.
"""

from functools import lru_cache

from pydantic import BaseSettings


class ActionSettings(BaseSettings):
    core_banking_url: str = "http://127.0.0.1:8001"
    # Well under Rasa's own action timeout, so a slow backend becomes a plain answer
    # to the customer instead of a failed action.
    core_banking_timeout_seconds: float = 5.0
    action_server_port: int = 5055
    # The gateway resolves the gift-card references it masked in user text
    # (POST /internal/pii/resolve, authenticated with the shared service token).
    gateway_url: str = "http://127.0.0.1:8000"
    service_token: str = "dev-service-token"


@lru_cache(maxsize=1)
def get_settings() -> ActionSettings:
    return ActionSettings()
