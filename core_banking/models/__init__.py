"""All ORM models; importing this package registers every table on Base.metadata."""

from core_banking.models.account import Account, AccountType
from core_banking.models.audit import AuditLog
from core_banking.models.base import Base
from core_banking.models.card import Card, CardStatus
from core_banking.models.customer import Customer
from core_banking.models.gift_card import (
    CodeLookupFailure,
    GiftCard,
    GiftCardActivity,
    GiftCardStatus,
)
from core_banking.models.hold import Hold, HoldStatus
from core_banking.models.idempotency import IdempotencyRecord
from core_banking.models.ledger import Journal, LedgerEntry
from core_banking.models.login_failure import LoginFailure
from core_banking.models.payee import Payee
from core_banking.models.staff_user import StaffRole, StaffUser
from core_banking.models.step_up import StepUpFactor, StepUpFactorStatus
from core_banking.models.transfer import Transfer, TransferKind, TransferStatus
from core_banking.models.transfer_usage import TransferDailyUsage

__all__ = [
    "Account",
    "AccountType",
    "AuditLog",
    "Base",
    "Card",
    "CardStatus",
    "CodeLookupFailure",
    "Customer",
    "GiftCard",
    "GiftCardActivity",
    "GiftCardStatus",
    "Hold",
    "HoldStatus",
    "IdempotencyRecord",
    "Journal",
    "LedgerEntry",
    "LoginFailure",
    "Payee",
    "StaffRole",
    "StaffUser",
    "StepUpFactor",
    "StepUpFactorStatus",
    "Transfer",
    "TransferDailyUsage",
    "TransferKind",
    "TransferStatus",
]
