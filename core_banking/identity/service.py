from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core_banking.identity.repository import IdentityRepository
from core_banking.identity.schemas import VerifiedIdentity
from core_banking.passwords import verify_password
from core_banking.problems import InvalidCredentials


async def verify_credentials(
    session: AsyncSession, username: str, password: str
) -> VerifiedIdentity:
    """Resolve a login to a customer or a staff user.

    Unknown user and wrong password raise the same error after the same amount of work,
    so the gateway (and whoever is probing it) cannot tell which usernames exist.
    """
    repository = IdentityRepository(session)
    customer = await repository.get_customer_by_username(username)
    if customer is not None:
        if await verify_password(customer.password_hash, password):
            return VerifiedIdentity(
                subject=customer.id,
                username=customer.username,
                display_name=customer.display_name,
                roles=["customer"],
            )
        raise InvalidCredentials()

    staff = await repository.get_staff_by_username(username)
    if await verify_password(staff.password_hash if staff else None, password) and staff:
        return VerifiedIdentity(
            subject=staff.id,
            username=staff.username,
            display_name=staff.display_name,
            roles=[staff.role],
        )
    raise InvalidCredentials()
