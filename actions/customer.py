"""Who the customer is, taken only from the gateway's per-message metadata.

The gateway authenticates the socket and relays the customer's id and bearer token in
every message's metadata; the sender id or the text never identifies a customer.
"""

from dataclasses import dataclass
from typing import Any

from rasa_sdk import Tracker


@dataclass(frozen=True)
class Customer:
    customer_id: str
    access_token: str
    display_name: str | None = None


def customer_from_tracker(tracker: Tracker) -> Customer | None:
    """The logged-in customer of the latest user message, or None for a guest."""
    metadata: Any = (tracker.latest_message or {}).get("metadata") or {}
    if not isinstance(metadata, dict):
        return None
    customer_id = metadata.get("customer_id")
    token = metadata.get("access_token")
    if not isinstance(customer_id, str) or not isinstance(token, str):
        return None
    if not customer_id or not token:
        return None
    name = metadata.get("display_name")
    return Customer(customer_id, token, name if isinstance(name, str) else None)
