"""`python -m core_banking.seed --customers N`: idempotent demo data (CONTRACT.md "make seed").

Creates demo001..demoN (password `demo-password`) with a funded checking and savings
account, one debit card and two payees, plus staff agent1/supervisor1 (`staff-password`).
Existing rows are never modified: a rerun with a larger N only adds missing customers.
Demo money enters through ledger journals from the bank's `funding` account, so the
per-currency sum of all balances stays zero (see models.ledger.LedgerEntry). Each new
customer also gets ~6 weeks of back-dated history (salary, rent, card payments at Tesco,
Amazon, ...) booked against the bank's clearing account; it nets to zero on the checking
account, so the opening balances above still hold. Every demo customer has an
authenticator app enrolled with the contract's published TOTP secret (DEMO_TOTP_SECRET);
a rerun enrols the demo customers that lack one (seeded before step-up existed) and
touches no enrolled one.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core_banking.db import create_engine, create_sessionmaker
from core_banking.iban import OTHER_BANK_CODE, OUR_BANK_CODE, make_iban
from core_banking.ledger.service import Leg, post_journal
from core_banking.models import (
    Account,
    AccountType,
    Card,
    Customer,
    Payee,
    StaffRole,
    StaffUser,
    StepUpFactor,
    StepUpFactorStatus,
    encrypted,
)
from core_banking.models.base import utcnow
from core_banking.passwords import hash_password
from core_banking.settings import Settings, get_settings
from core_banking.step_up import crypto
from core_banking.system import accounts as system_accounts

DEMO_PASSWORD = "demo-password"
STAFF_PASSWORD = "staff-password"
CURRENCY = "EUR"
CHECKING_OPENING_MINOR = 100_000  # 1,000.00 EUR
SAVINGS_OPENING_MINOR = 500_000  # 5,000.00 EUR
FUNDING_CODE = "funding"
# CONTRACT.md: demo customers' authenticator secret (RFC 6238, SHA-1, 6 digits, 30 s).
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXP"
OPENING_DAYS_AGO = 60
SALARY_PAYER = ("Acme Logistics GmbH", make_iban(OTHER_BANK_CODE, "7000000001"))
# (days ago, journal kind, description, counterparty, signed amount). The history nets
# to zero, so the contract's opening balances (1,000.00 checking) still hold after it.
# "rent" and "energy" go to the customer's two seeded payees.
HISTORY: tuple[tuple[int, str, str, str, int], ...] = (
    (45, "incoming_payment", "Salary", "salary", 215_000),
    (44, "transfer", "Rent", "rent", -110_000),
    (40, "card_payment", "Card payment TESCO STORES 2231", "Tesco", -8_540),
    (36, "card_payment", "Card payment AMAZON EU SARL", "Amazon", -4_999),
    (30, "transfer", "Electricity", "energy", -9_500),
    (25, "card_payment", "Card payment TESCO EXPRESS", "Tesco", -6_215),
    (20, "card_payment", "Cash withdrawal ATM Bahnhofstrasse", "ATM", -20_000),
    (15, "card_payment", "Card payment NETFLIX.COM", "Netflix", -1_399),
    (10, "card_payment", "Card payment AMAZON MARKETPLACE", "Amazon", -2_347),
    (7, "card_payment", "Card payment BOOKING.COM", "Booking.com", -38_000),
    (4, "card_payment", "Card payment SHELL 0421", "Shell", -7_000),
    (2, "card_payment", "Card payment IKEA", "IKEA", -7_000),
)

STAFF = (
    ("agent1", "Alex Agent", StaffRole.agent),
    ("supervisor1", "Sam Supervisor", StaffRole.supervisor),
)
FIRST_NAMES = ("Anna", "Ben", "Chloé", "David", "Elif", "Felix", "Greta", "Hugo", "Ines", "Jonas")
LAST_NAMES = ("Meier", "Rossi", "Dubois", "Schmid", "Keller", "Weber", "Huber", "Frei", "Brunner")


class SeedRefused(RuntimeError):
    pass


@dataclass
class SeedReport:
    customers_created: list[str] = field(default_factory=list)
    customers_existing: int = 0
    staff_created: list[str] = field(default_factory=list)
    funding_account_created: bool = False
    authenticators_enrolled: int = 0

    def lines(self) -> list[str]:
        created = ", ".join(self.customers_created) if self.customers_created else "none"
        return [
            f"funding account: {'created' if self.funding_account_created else 'exists'}",
            f"staff created: {', '.join(self.staff_created) or 'none'}",
            f"customers already present: {self.customers_existing}",
            f"customers created ({len(self.customers_created)}): {created}",
            f"demo authenticator apps enrolled: {self.authenticators_enrolled}",
        ]


def demo_username(n: int) -> str:
    return f"demo{n:03d}"


def _account_number(n: int, type_code: int) -> str:
    # Deterministic: demoNNN's accounts always get the same IBANs, across reseeds and
    # machines, which makes demo scripts and support conversations reproducible.
    return make_iban(OUR_BANK_CODE, f"{n:08d}{type_code:02d}")


async def seed(
    session: AsyncSession, customers: int, settings: Settings, *, history: bool = True
) -> SeedReport:
    if settings.is_production:
        raise SeedRefused("refusing to create demo credentials when APP_ENV=production")
    if customers < 0:
        raise ValueError("customers must be >= 0")
    report = SeedReport()
    # One argon2 hash per password per run, reused for every demo user: hashing is
    # deliberately slow (~50 ms), and demo accounts share a published password anyway.
    # Reuse means they share a salt, which is acceptable for demo data only.
    demo_hash = hash_password(DEMO_PASSWORD)
    staff_hash = hash_password(STAFF_PASSWORD)

    funding = await _ensure_funding_account(session, report)
    clearing = await system_accounts.get_or_create(session, system_accounts.CLEARING, CURRENCY)
    await system_accounts.get_or_create(session, system_accounts.GIFT_CARD_LIABILITY, CURRENCY)
    await _ensure_staff(session, staff_hash, report)

    wanted = {demo_username(n): n for n in range(1, customers + 1)}
    # LIKE rather than IN (...): a big N would exceed the drivers' bind-parameter limits.
    demo_like = select(Customer.username).where(Customer.username.like("demo%"))
    existing = set(await session.scalars(demo_like)) & wanted.keys()
    report.customers_existing = len(existing)
    for username, n in wanted.items():
        if username not in existing:
            await _create_demo_customer(session, n, demo_hash, funding, clearing, history)
            report.customers_created.append(username)
    await _ensure_demo_authenticators(session, set(wanted), settings, report)
    return report


async def _ensure_demo_authenticators(
    session: AsyncSession, usernames: set[str], settings: Settings, report: SeedReport
) -> None:
    lacking = (
        select(Customer.id, Customer.username)
        .outerjoin(
            StepUpFactor,
            (StepUpFactor.customer_id == Customer.id) & (StepUpFactor.method == "totp"),
        )
        .where(Customer.username.like("demo%"), StepUpFactor.id.is_(None))
    )
    now = utcnow()
    for customer_id, username in (await session.execute(lacking)).all():
        if username not in usernames:
            continue
        session.add(
            StepUpFactor(
                customer_id=customer_id,
                method="totp",
                status=StepUpFactorStatus.active.value,
                secret_encrypted=crypto.encrypt(settings, DEMO_TOTP_SECRET),
                activated_at=now,
                created_at=now,
            )
        )
        report.authenticators_enrolled += 1
    await session.flush()


async def _ensure_funding_account(session: AsyncSession, report: SeedReport) -> Account:
    funding = await session.scalar(select(Account).where(Account.system_code == FUNDING_CODE))
    if funding is None:
        funding = Account(
            customer_id=None,
            system_code=FUNDING_CODE,
            number=_account_number(0, 90),
            type=AccountType.internal.value,
            currency=CURRENCY,
            balance_minor=0,
        )
        session.add(funding)
        await session.flush()
        report.funding_account_created = True
    return funding


async def _ensure_staff(session: AsyncSession, password_hash: str, report: SeedReport) -> None:
    present = set(await session.scalars(select(StaffUser.username)))
    for username, display_name, role in STAFF:
        if username not in present:
            session.add(
                StaffUser(
                    username=username,
                    display_name=display_name,
                    role=role.value,
                    password_hash=password_hash,
                )
            )
            report.staff_created.append(username)
    await session.flush()


async def _create_demo_customer(
    session: AsyncSession,
    n: int,
    password_hash: str,
    funding: Account,
    clearing: Account,
    history: bool,
) -> None:
    name = f"{FIRST_NAMES[(n - 1) % len(FIRST_NAMES)]} {LAST_NAMES[(n - 1) % len(LAST_NAMES)]}"
    customer = Customer(username=demo_username(n), display_name=name, password_hash=password_hash)
    session.add(customer)
    await session.flush()

    def new_account(kind: AccountType, type_code: int) -> Account:
        return Account(
            customer_id=customer.id,
            number=_account_number(n, type_code),
            type=kind.value,
            currency=CURRENCY,
            balance_minor=0,
        )

    checking = new_account(AccountType.checking, 1)
    savings = new_account(AccountType.savings, 2)
    session.add_all([checking, savings])
    await session.flush()

    opened = utcnow() - timedelta(days=OPENING_DAYS_AGO)
    for account, amount in ((checking, CHECKING_OPENING_MINOR), (savings, SAVINGS_OPENING_MINOR)):
        await post_journal(
            session,
            kind="deposit",
            description=f"Opening deposit ({account.type})",
            legs=[
                Leg(funding.id, -amount, CURRENCY),
                Leg(account.id, amount, CURRENCY),
            ],
            booked_at=opened,
        )

    session.add(
        Card(
            customer_id=customer.id,
            account_id=checking.id,
            last4=f"{(4000 + n * 37) % 10000:04d}",
            brand="VISA",
            kind="debit",
            expiry_month=(n % 12) + 1,
            expiry_year=2029,
        )
    )
    energy = Payee(
        customer_id=customer.id,
        name="Alpine Energy AG",
        iban=make_iban(OTHER_BANK_CODE, f"{n:08d}11"),
    )
    rent = Payee(
        customer_id=customer.id,
        name="City Housing (rent)",
        iban=make_iban(OTHER_BANK_CODE, f"{n:08d}22"),
    )
    session.add_all([energy, rent])
    await session.flush()
    if history:
        parties = {
            "salary": SALARY_PAYER,
            "rent": (rent.name, rent.iban),
            "energy": (energy.name, energy.iban),
        }
        await _post_history(session, customer, checking, clearing, parties)


async def _post_history(
    session: AsyncSession,
    customer: Customer,
    checking: Account,
    clearing: Account,
    parties: dict[str, tuple[str, str]],
) -> None:
    """Back-dated salary, rent and card payments through the clearing account, so
    transaction search has realistic data. Totals stay conserved: each is a journal."""
    now = utcnow()
    for days_ago, kind, description, party, amount in HISTORY:
        name, number = parties.get(party, (party, None))
        await post_journal(
            session,
            kind=kind,
            description=description,
            legs=[
                Leg(checking.id, amount, CURRENCY, name, number),
                Leg(clearing.id, -amount, CURRENCY, customer.display_name, checking.number),
            ],
            booked_at=now - timedelta(days=days_ago, hours=days_ago % 7),
        )


async def run(settings: Settings, customers: int) -> SeedReport:
    engine = create_engine(settings)
    encrypted.use_settings(settings)
    try:
        # One transaction for the whole run: an interrupted seed leaves nothing half-made.
        async with create_sessionmaker(engine)() as session, session.begin():
            return await seed(session, customers, settings)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Create idempotent demo data.")
    parser.add_argument("--customers", type=int, default=20, help="create demo001..demoN")
    args = parser.parse_args(argv)
    if args.customers < 0:
        parser.error("--customers must be >= 0")
    # Checked before loading Settings, which in production would fail on other grounds
    # first (e.g. SERVICE_TOKEN) with a less helpful message.
    if os.environ.get("APP_ENV", "").strip().lower() == "production":
        print("core_banking.seed: refusing to run with APP_ENV=production", file=sys.stderr)
        return 2
    settings = get_settings()
    report = asyncio.run(run(settings, args.customers))
    print(f"core_banking.seed: up to demo{args.customers:03d}")
    for line in report.lines():
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
