"""All ORM models; importing this package registers every table on Base.metadata."""

from core_banking.models.account import Account, AccountType
from core_banking.models.base import Base
from core_banking.models.card import Card, CardStatus
from core_banking.models.customer import Customer
from core_banking.models.ledger import Journal, LedgerEntry
from core_banking.models.payee import Payee
from core_banking.models.staff_user import StaffRole, StaffUser

__all__ = [
    "Account",
    "AccountType",
    "Base",
    "Card",
    "CardStatus",
    "Customer",
    "Journal",
    "LedgerEntry",
    "Payee",
    "StaffRole",
    "StaffUser",
]
