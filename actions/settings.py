"""Settings of the action server, read from the environment.

Rasa 3.6 pins pydantic 1.x, so this is pydantic's v1 `BaseSettings`.
"""

from functools import lru_cache
from pathlib import Path

from pydantic import BaseSettings, Field

DEFAULT_ACTION_SERVER_TOKEN = "dev-action-token"
# A Fernet key for development and tests only: the gateway's default too.
DEFAULT_CHAT_CREDENTIAL_KEY = "ZGV2LWNoYXQtY3JlZGVudGlhbC1rZXktMzItYnl0ZXM="


class ActionSettings(BaseSettings):
    app_env: str = "development"
    core_banking_url: str = "http://127.0.0.1:8001"
    # Well under Rasa's own action timeout, so a slow backend becomes a plain answer
    # to the customer instead of a failed action.
    core_banking_timeout_seconds: float = 5.0
    # Idle pooled connections (to core_banking and the gateway) are dropped after this
    # long: under the 5 s after which uvicorn closes them (timeout_keep_alive), so that
    # a reused connection never races the server's close ("server disconnected").
    keepalive_seconds: float = Field(default=2.0, gt=0, lt=5.0)
    action_server_host: str = "127.0.0.1"
    action_server_port: int = 5055
    # What Rasa must send as X-Action-Token (actions/server.py).
    action_server_token: str = DEFAULT_ACTION_SERVER_TOKEN
    # Opens the sealed turn credential the gateway puts in each message's metadata
    # (comma separated Fernet keys, the gateway's CHAT_CREDENTIAL_KEY), and seals the
    # secrets a reply shows once; a credential older than the TTL is refused.
    chat_credential_key: str = DEFAULT_CHAT_CREDENTIAL_KEY
    delegated_token_ttl_seconds: int = 60
    # The gateway resolves the gift-card references it masked in user text
    # (POST /internal/pii/resolve, authenticated with the shared service token).
    gateway_url: str = "http://127.0.0.1:8000"
    service_token: str = "dev-service-token"
    # The task registry Rasa's policy reads too (actions/task_registry.py).
    task_registry_path: Path = Path(__file__).resolve().parent.parent / "bot" / "tasks.yml"


@lru_cache(maxsize=1)
def get_settings() -> ActionSettings:
    return ActionSettings()
