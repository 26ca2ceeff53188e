from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core_banking.models import Customer, StaffUser


class IdentityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_customer_by_username(self, username: str) -> Customer | None:
        return await self.session.scalar(select(Customer).where(Customer.username == username))

    async def get_staff_by_username(self, username: str) -> StaffUser | None:
        return await self.session.scalar(select(StaffUser).where(StaffUser.username == username))
