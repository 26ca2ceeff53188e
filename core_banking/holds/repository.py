from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core_banking.dbclock import db_now
from core_banking.models import Hold, HoldStatus, Transfer, TransferStatus


class HoldRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_expired_transfers(self, limit: int) -> Sequence[tuple[Transfer, Hold]]:
        """Held transfers whose hold has expired, locked (transfer first, as confirm and
        cancel lock them) and skipping any another process is working on."""
        stmt = (
            select(Transfer, Hold)
            .join(Hold, Hold.id == Transfer.hold_id)
            .where(
                Transfer.status == TransferStatus.requires_confirmation.value,
                Hold.status == HoldStatus.active.value,
                Hold.expires_at <= db_now(),
            )
            .order_by(Hold.expires_at)
            .limit(limit)
            .with_for_update(key_share=True, skip_locked=True)
            .execution_options(populate_existing=True)
        )
        return [(t, h) for t, h in (await self.session.execute(stmt)).all()]
