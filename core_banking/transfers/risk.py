"""Pre-execution risk rules (documented in core_banking/README.md, "Risk rules").

A transfer that trips any rule is held as `requires_confirmation` until the customer
enters a one-time code. Transfers between a customer's own accounts are never checked.
"""

from __future__ import annotations

from core_banking.settings import Settings
from core_banking.transfers.repository import TransferRepository

NEW_PAYEE = "new_payee_large_amount"
UNUSUAL_AMOUNT = "unusual_amount"
VELOCITY = "velocity"


async def assess(
    repository: TransferRepository,
    settings: Settings,
    *,
    customer_id: str,
    to_number: str,
    amount_minor: int,
    recent_count: int,
) -> list[str]:
    """`recent_count`: the customer's non-own transfers in the velocity window, counted
    up to RISK_VELOCITY_MAX_TRANSFERS (transfers.usage), fetched with the daily-limit
    total."""
    reasons: list[str] = []
    # (a) a large first payment to a destination this customer never paid before.
    if amount_minor > settings.risk_new_payee_threshold_minor and not await repository.has_paid(
        customer_id, to_number
    ):
        reasons.append(NEW_PAYEE)
    # (b) far above anything this customer has paid before.
    if amount_minor > settings.risk_large_amount_minor:
        largest = await repository.largest_payment(customer_id)
        if amount_minor > settings.risk_large_multiplier * largest:
            reasons.append(UNUSUAL_AMOUNT)
    # (c) too many transfers in a short window (this one would exceed the maximum).
    if recent_count >= settings.risk_velocity_max_transfers:
        reasons.append(VELOCITY)
    return reasons
