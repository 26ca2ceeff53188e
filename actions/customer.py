"""Who the customer is, taken only from the gateway's per-message metadata.

The gateway authenticates the socket and relays the customer's id and bearer token in
every message's metadata; the sender id or the text never identifies a customer.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from rasa_sdk import Tracker

from actions.core_banking import CoreBankingError, say_failure

T = TypeVar("T")


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


async def for_customer(
    dispatcher: Any, tracker: Tracker, call: Callable[[str], Awaitable[T]]
) -> tuple[Customer, T] | None:
    """`call(access_token)` for the logged-in customer, or None once the customer has been
    told why not: a guest is asked to log in, a failed call is explained plainly."""
    customer = customer_from_tracker(tracker)
    if customer is None:
        dispatcher.utter_message(response="utter_login_required")
        return None
    try:
        return customer, await call(customer.access_token)
    except CoreBankingError as error:
        say_failure(dispatcher, error)
        return None
