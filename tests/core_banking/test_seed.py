from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core_banking.fieldcrypt import new_key_spec
from core_banking.iban import is_valid_iban
from core_banking.models import (
    Account,
    Card,
    Customer,
    Journal,
    LedgerEntry,
    Payee,
    StaffUser,
    StepUpFactor,
)
from core_banking.passwords import verify_password
from core_banking.seed import SeedRefused, seed
from core_banking.settings import DEFAULT_DATA_ENCRYPTION_KEYS, Settings
from core_banking.step_up import crypto
from tests.core_banking.conftest import Keys, make_settings

SessionFactory = Callable[[], AsyncSession]
PRODUCTION_DATA_KEYS = {
    "data_encryption_keys": new_key_spec("prod1"),
    "data_index_key": new_key_spec("x").split(":", 1)[1],
}


async def snapshot(session_factory: SessionFactory) -> dict[str, Any]:
    """Everything seeding may touch, in a comparable form."""
    async with session_factory() as s:
        return {
            "customers": set((await s.execute(select(Customer.id, Customer.username))).all()),
            "accounts": set(
                (await s.execute(select(Account.id, Account.number, Account.balance_minor))).all()
            ),
            "cards": set((await s.execute(select(Card.id, Card.last4))).all()),
            "payees": set((await s.execute(select(Payee.id, Payee.iban))).all()),
            "staff": set((await s.execute(select(StaffUser.id, StaffUser.password_hash))).all()),
            "journals": await s.scalar(select(func.count()).select_from(Journal)),
            "factors": set(
                (
                    await s.execute(select(StepUpFactor.customer_id, StepUpFactor.secret_encrypted))
                ).all()
            ),
        }


async def test_seed_creates_contract_data(
    seeded: Any, session_factory: SessionFactory, settings: Settings
) -> None:
    assert seeded.customers_created == ["demo001", "demo002", "demo003"]
    async with session_factory() as s:
        customers = (await s.scalars(select(Customer).order_by(Customer.username))).all()
        assert [c.username for c in customers] == ["demo001", "demo002", "demo003"]
        for customer in customers:
            assert await verify_password(customer.password_hash, "demo-password")
            accounts = {
                a.type: a
                for a in await s.scalars(select(Account).where(Account.customer_id == customer.id))
            }
            assert set(accounts) == {"checking", "savings"}
            assert accounts["checking"].balance_minor == 100_000
            assert accounts["savings"].balance_minor == 500_000
            for account in accounts.values():
                assert account.currency == "EUR"
                assert account.available_minor == account.balance_minor
                assert is_valid_iban(account.number)
            cards = (await s.scalars(select(Card).where(Card.customer_id == customer.id))).all()
            assert len(cards) == 1
            assert cards[0].status == "active" and len(cards[0].last4) == 4
            assert cards[0].account_id == accounts["checking"].id
            payees = (await s.scalars(select(Payee).where(Payee.customer_id == customer.id))).all()
            assert len(payees) == 2 and all(is_valid_iban(p.iban) for p in payees)
            factor = await s.scalar(
                select(StepUpFactor).where(StepUpFactor.customer_id == customer.id)
            )
            assert factor is not None and (factor.method, factor.status) == ("totp", "active")
            assert factor.secret_encrypted != "JBSWY3DPEHPK3PXP"  # encrypted at rest
            assert crypto.decrypt(settings, factor.secret_encrypted) == "JBSWY3DPEHPK3PXP"

        staff = {u.username: u for u in await s.scalars(select(StaffUser))}
        assert {u: staff[u].role for u in staff} == {"agent1": "agent", "supervisor1": "supervisor"}
        for user in staff.values():
            assert await verify_password(user.password_hash, "staff-password")


async def test_seed_is_idempotent_and_only_adds_missing_customers(
    seeded: Any, run_seed: Callable[[int], Any], session_factory: SessionFactory
) -> None:
    before = await snapshot(session_factory)

    again = await run_seed(3)
    assert again.customers_created == [] and again.customers_existing == 3
    assert again.staff_created == [] and not again.funding_account_created
    assert await snapshot(session_factory) == before

    grown = await run_seed(5)
    assert grown.customers_created == ["demo004", "demo005"]
    after = await snapshot(session_factory)
    # Nothing that existed changed (funding's balance is the one expected exception:
    # it paid for the new customers' opening deposits).
    async with session_factory() as s:
        funding_id = await s.scalar(select(Account.id).where(Account.system_code == "funding"))
    old_accounts = {a for a in before["accounts"] if a[0] != funding_id}
    assert old_accounts <= after["accounts"]
    assert before["customers"] <= after["customers"]
    assert len(after["customers"]) == 5
    assert before["cards"] <= after["cards"] and len(after["cards"]) == 5
    assert before["payees"] <= after["payees"] and len(after["payees"]) == 10
    assert after["staff"] == before["staff"]
    assert before["factors"] <= after["factors"] and len(after["factors"]) == 5


async def test_a_rerun_enrols_demo_customers_seeded_before_step_up(
    seeded: Any, run_seed: Callable[[int], Any], session_factory: SessionFactory
) -> None:
    async with session_factory() as s, s.begin():
        demo2 = await s.scalar(select(Customer.id).where(Customer.username == "demo002"))
        await s.execute(delete(StepUpFactor).where(StepUpFactor.customer_id == demo2))
    before = await snapshot(session_factory)
    report = await run_seed(3)
    assert report.authenticators_enrolled == 1 and report.customers_created == []
    after = await snapshot(session_factory)
    assert {c for c, _ in after["factors"] - before["factors"]} == {demo2}
    assert before["factors"] <= after["factors"]
    assert {k: v for k, v in after.items() if k != "factors"} == {
        k: v for k, v in before.items() if k != "factors"
    }


async def test_ledger_is_balanced_and_conserves_money(
    run_seed: Callable[..., Any], session_factory: SessionFactory
) -> None:
    """Sign convention: entries are signed from the account's view and every journal sums

    to zero per currency, so all balances per currency (bank accounts included) sum to 0.
    """
    await run_seed(3, history=True)
    async with session_factory() as s:
        per_journal = (
            await s.execute(
                select(
                    LedgerEntry.journal_id, LedgerEntry.currency, func.sum(LedgerEntry.amount_minor)
                ).group_by(LedgerEntry.journal_id, LedgerEntry.currency)
            )
        ).all()
        # 3 customers x (2 opening deposits + 12 back-dated history items)
        assert len(per_journal) == 3 * 14
        assert all(total == 0 for _, _, total in per_journal)

        totals = dict(
            (
                await s.execute(
                    select(Account.currency, func.sum(Account.balance_minor)).group_by(
                        Account.currency
                    )
                )
            ).all()
        )
        assert totals == {"EUR": 0}

        funding = await s.scalar(select(Account).where(Account.system_code == "funding"))
        assert funding is not None and funding.customer_id is None and funding.type == "internal"
        assert funding.balance_minor == -3 * 600_000
        # History (salary in, payments out) nets to zero on each checking account.
        clearing = await s.scalar(select(Account).where(Account.system_code == "clearing:EUR"))
        assert clearing is not None and clearing.balance_minor == 0
        balances = await s.scalars(select(Account.balance_minor).where(Account.type == "checking"))
        assert set(balances) == {100_000}

        # The cached balance of every account equals the sum of its entries.
        sums = dict(
            (
                await s.execute(
                    select(LedgerEntry.account_id, func.sum(LedgerEntry.amount_minor)).group_by(
                        LedgerEntry.account_id
                    )
                )
            ).all()
        )
        for account in await s.scalars(select(Account)):
            assert account.balance_minor == sums.get(account.id, 0)


async def test_seed_refuses_in_production(
    session_factory: SessionFactory, rsa_keys: Keys, settings: Settings
) -> None:
    production = make_settings(
        settings.database_url,
        rsa_keys,
        app_env="production",
        service_token="s3cret-prod",
        gift_card_code_key="prod-gift-key",
        step_up_encryption_keys=Fernet.generate_key().decode(),
        **PRODUCTION_DATA_KEYS,
    )
    async with session_factory() as s:
        with pytest.raises(SeedRefused):
            await seed(s, 1, production)
        assert await s.scalar(select(func.count()).select_from(Customer)) == 0


def test_production_refuses_the_default_step_up_key(rsa_keys: Keys, settings: Settings) -> None:
    production = {
        "app_env": "production",
        "service_token": "s3cret-prod",
        "gift_card_code_key": "prod-gift-key",
        **PRODUCTION_DATA_KEYS,
    }
    with pytest.raises(ValueError, match="STEP_UP_ENCRYPTION_KEYS"):
        make_settings(settings.database_url, rsa_keys, **production)
    key = Fernet.generate_key().decode()
    assert make_settings(
        settings.database_url, rsa_keys, step_up_encryption_keys=key, **production
    ).is_production


def test_production_refuses_the_development_data_keys(rsa_keys: Keys, settings: Settings) -> None:
    production = {
        "app_env": "production",
        "service_token": "s3cret-prod",
        "gift_card_code_key": "prod-gift-key",
        "step_up_encryption_keys": Fernet.generate_key().decode(),
    }
    own_key = PRODUCTION_DATA_KEYS["data_encryption_keys"]
    with pytest.raises(ValueError, match="DATA_ENCRYPTION_KEYS"):
        make_settings(
            settings.database_url,
            rsa_keys,
            data_encryption_keys=f"{own_key},{DEFAULT_DATA_ENCRYPTION_KEYS}",
            data_index_key=PRODUCTION_DATA_KEYS["data_index_key"],
            **production,
        )
    with pytest.raises(ValueError, match="DATA_INDEX_KEY"):
        make_settings(settings.database_url, rsa_keys, data_encryption_keys=own_key, **production)
    with pytest.raises(ValueError, match="32"):  # a malformed key fails at startup
        make_settings(settings.database_url, rsa_keys, data_encryption_keys="k1:c2hvcnQ=")
    assert make_settings(
        settings.database_url, rsa_keys, **production, **PRODUCTION_DATA_KEYS
    ).is_production
