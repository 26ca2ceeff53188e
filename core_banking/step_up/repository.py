from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core_banking.models import Customer, StepUpFactor


class StepUpRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def factors(self, customer_id: str) -> Sequence[StepUpFactor]:
        stmt = (
            select(StepUpFactor)
            .where(StepUpFactor.customer_id == customer_id)
            .order_by(StepUpFactor.created_at)
        )
        return (await self.session.scalars(stmt)).all()

    async def lock_factor(self, customer_id: str, method: str) -> StepUpFactor | None:
        stmt = (
            select(StepUpFactor)
            .where(StepUpFactor.customer_id == customer_id, StepUpFactor.method == method)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return await self.session.scalar(stmt)

    async def username(self, customer_id: str) -> str | None:
        return await self.session.scalar(
            select(Customer.username).where(Customer.id == customer_id)
        )
