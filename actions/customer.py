"""Who the customer is, taken only from the gateway's sealed turn credential.

The gateway authenticates the socket and seals the customer's id and a delegated bearer
token into every message's metadata (``actions/credentials.py``); the sender id, the
text or any clear metadata never identifies a customer.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from rasa_sdk import Tracker

from actions.core_banking_api import CoreBankingError, say_failure
from actions.credentials import TurnClaims, open_credential

T = TypeVar("T")


@dataclass(frozen=True)
class Customer:
    customer_id: str
    access_token: str
    display_name: str | None = None


def turn_claims(tracker: Tracker) -> TurnClaims | None:
    """The latest user message's sealed credential, opened (None: none, or not valid)."""
    return open_credential((tracker.latest_message or {}).get("metadata"))


def customer_from_tracker(tracker: Tracker) -> Customer | None:
    """The logged-in customer of the latest user message, or None for a guest."""
    claims = turn_claims(tracker)
    if claims is None or claims.customer_id is None or claims.token is None:
        return None
    metadata: Any = (tracker.latest_message or {}).get("metadata") or {}
    name = metadata.get("display_name") if isinstance(metadata, dict) else None
    return Customer(claims.customer_id, claims.token, name if isinstance(name, str) else None)


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
