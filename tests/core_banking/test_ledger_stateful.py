"""A Hypothesis state machine of the ledger against the real service layer on PostgreSQL.

Each rule calls what the HTTP endpoints call (TransactionRunner + run_idempotent + the
transfer / gift card service functions) for a few seeded accounts, and a plain Python
model predicts the outcome: transfers to an own account, another customer or another bank,
idempotent replays and reused keys, transfers that must fail for funds, risk holds with
confirm (TOTP codes of a controlled clock) / wrong code / replayed code / cancel / expiry
(the hold's expires_at moved into the past: the database clock judges it) / the sweeper,
and gift card purchase / partial / full redemption.
After every step the invariants are checked on the database: every currency sums to zero
(bank accounts included), no customer balance or available amount is negative, each
balance equals the sum of its entries, each available amount equals the balance less the
active holds, gift cards equal the liability account, and the DB equals the model.

Isolation: the whole test runs in one outer transaction that is rolled back at the end;
each example runs in a SAVEPOINT rolled back in teardown, and the service's own
transactions become nested SAVEPOINTs (join_transaction_mode="create_savepoint"), so a
failing request rolls back exactly as it would on its own connection.

Profiles: `ledger-ci` (default; derandomized, no example database, so CI is repeatable)
and `ledger-dev` (random, more and longer runs), chosen by CORE_BANKING_HYPOTHESIS_PROFILE.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from pydantic import BaseModel
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from core_banking.db import create_engine
from core_banking.gift_cards import service as gift_cards
from core_banking.gift_cards.schemas import GiftCardPurchase, GiftCardRedeem
from core_banking.holds import service as holds
from core_banking.iban import OTHER_BANK_CODE, make_iban
from core_banking.idempotency import Claim, Outcome, request_hash, run_idempotent
from core_banking.models import Account, Customer
from core_banking.problems import (
    ConfirmationExpired,
    GiftCardInsufficientBalance,
    IdempotencyKeyReused,
    InsufficientFunds,
    InvalidConfirmationCode,
    InvalidState,
    Problem,
)
from core_banking.security import Principal
from core_banking.seed import seed
from core_banking.settings import Settings
from core_banking.step_up import methods as step_up_methods
from core_banking.transactions import TransactionRunner
from core_banking.transfers import confirmation, risk
from core_banking.transfers import service as transfers
from core_banking.transfers.schemas import TransferCreate
from core_banking.verify_ledger import daily_usage_problems
from tests.core_banking.conftest import Keys, make_settings
from tests.totp import code_at, wrong_code

T = TypeVar("T")
CUSTOMERS = 3
CURRENCY = "EUR"
NEW_PAYEE_THRESHOLD = 20_000
LARGE_AMOUNT = 50_000
LARGE_MULTIPLIER = 3
VELOCITY_MAX = 2
MAX_CONFIRM_ATTEMPTS = 3
IP = "203.0.113.7"
EXTERNAL = [make_iban(OTHER_BANK_CODE, f"{n:010d}") for n in (4242, 4343)]

settings.register_profile(
    "ledger-ci",
    max_examples=12,
    stateful_step_count=20,
    derandomize=True,
    database=None,
    deadline=None,
    # No shrinking: against the database it takes minutes. A failure prints its (at
    # most stateful_step_count) steps as found; the dev profile shrinks them.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=False,
)
settings.register_profile(
    "ledger-dev",
    max_examples=200,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = os.environ.get("CORE_BANKING_HYPOTHESIS_PROFILE", "ledger-ci")

pytestmark = pytest.mark.parametrize("backend", ["postgresql"])

# Amounts: small ones never trip a risk rule; medium ones trip "new payee"; large ones
# can also be "unusual" and often exceed a checking account (100,000) or more.
AMOUNTS = st.one_of(
    st.integers(1, NEW_PAYEE_THRESHOLD),
    st.integers(NEW_PAYEE_THRESHOLD + 1, LARGE_AMOUNT),
    st.integers(LARGE_AMOUNT + 1, 700_000),
)
PICK = st.integers(min_value=0, max_value=10**6)
SCHEMAS: dict[str, type[BaseModel]] = {
    "/v1/transfers": TransferCreate,
    "/v1/gift-cards": GiftCardPurchase,
    "/v1/gift-cards/redeem": GiftCardRedeem,
}


@dataclass
class World:
    """What stays the same for all examples: the loop, the connection and the seed."""

    loop: asyncio.Runner
    connection: AsyncConnection
    sessionmaker: async_sessionmaker[AsyncSession]
    settings: Settings
    people: list[Principal]
    accounts_of: dict[str, list[str]]  # customer id -> [checking id, savings id]
    number_of: dict[str, str]  # account id -> IBAN
    clearing_id: str
    liability_id: str
    # The TOTP clock core_banking checks codes against (step_up.methods.now is patched
    # to read it): each accepted confirmation moves it on a step, so codes never repeat.
    clock: list[float] = field(default_factory=lambda: [1_800_000_015.0])

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run(coro)


@dataclass
class Sent:
    """A request that succeeded with an Idempotency-Key: replays must return `stored`."""

    who: Principal
    key: str
    path: str
    body: dict[str, Any]
    status: int
    stored: dict[str, Any]


@dataclass
class Held:
    id: str
    who: Principal
    source: str
    target: str
    number: str
    amount: int
    # requires_confirmation (its hold reserves `amount`), expired (still
    # requires_confirmation in the database, but its hold no longer counts), completed,
    # cancelled.
    status: str = "requires_confirmation"
    attempts: int = 0


@dataclass
class Card:
    code: str
    balance: int


@dataclass
class Model:
    balances: dict[str, int]
    sent: list[Sent] = field(default_factory=list)
    held: list[Held] = field(default_factory=list)
    completed_ids: list[tuple[Principal, str]] = field(default_factory=list)
    cards: list[Card] = field(default_factory=list)
    paid: set[tuple[str, str]] = field(default_factory=set)  # (customer, IBAN)
    largest: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    non_own: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    last_step: dict[str, int] = field(default_factory=dict)  # customer -> TOTP step used

    def held_on(self, account: str) -> int:
        return sum(
            h.amount
            for h in self.held
            if h.source == account and h.status == "requires_confirmation"
        )

    def available(self, account: str) -> int:
        return self.balances[account] - self.held_on(account)

    def move(self, source: str, target: str, amount: int) -> None:
        self.balances[source] -= amount
        self.balances[target] += amount

    def risk_reasons(self, who: str, number: str, amount: int) -> list[str]:
        reasons = []
        if amount > NEW_PAYEE_THRESHOLD and (who, number) not in self.paid:
            reasons.append(risk.NEW_PAYEE)
        if amount > LARGE_AMOUNT and amount > LARGE_MULTIPLIER * self.largest[who]:
            reasons.append(risk.UNUSUAL_AMOUNT)
        if self.non_own[who] >= VELOCITY_MAX:
            reasons.append(risk.VELOCITY)
        return reasons

    def paid_out(self, who: str, number: str, amount: int) -> None:
        self.paid.add((who, number))
        self.largest[who] = max(self.largest[who], amount)


class LedgerMachine(RuleBasedStateMachine):
    world: ClassVar[World]  # set on a subclass per test run (see the test below)

    def __init__(self) -> None:
        super().__init__()
        self.savepoint = self.world.run(self.world.connection.begin_nested().start())
        self.model = Model(balances=self.world.run(self._db_balances()))

    def teardown(self) -> None:
        self.world.run(self.savepoint.rollback())

    # -- calling the service layer the way the endpoints do ------------------------------

    def _runner(self) -> TransactionRunner:
        return TransactionRunner(
            self.world.sessionmaker, self.world.settings.transaction_max_attempts
        )

    def _call(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        return self.world.run(self._runner().run(work))

    def _idempotent(
        self,
        who: Principal,
        key: str,
        path: str,
        body: dict[str, Any],
        work: Callable[[AsyncSession, Claim], Awaitable[Outcome]],
    ) -> Outcome:
        # As the endpoints do: the hash covers the validated body, defaults included.
        schema = SCHEMAS[path]
        fingerprint = request_hash(
            "POST", path, schema.model_validate(body).model_dump(mode="json")
        )

        async def in_transaction(session: AsyncSession) -> Outcome:
            return await run_idempotent(
                session,
                customer_id=who.id,
                key=key,
                fingerprint=fingerprint,
                ttl_hours=self.world.settings.idempotency_ttl_hours,
                work=lambda claim: work(session, claim),
                lock_customer=path == "/v1/transfers",  # as the transfer endpoint does
            )

        return self._call(in_transaction)

    def _send(self, who: Principal, key: str, path: str, body: dict[str, Any]) -> Outcome:
        """One idempotent POST of `path` with this body, as the endpoint would run it."""
        world = self.world
        if path == "/v1/transfers":
            create = TransferCreate.model_validate(body)

            async def work(session: AsyncSession, claim: Claim) -> Outcome:
                shown, stored = await transfers.create(
                    session,
                    who,
                    create,
                    world.settings,
                    idempotency_key=key,
                    client_ip=IP,
                    claim=claim,
                )
                return Outcome(201, shown, stored)

        elif path == "/v1/gift-cards":
            purchase = GiftCardPurchase.model_validate(body)

            async def work(session: AsyncSession, claim: Claim) -> Outcome:
                shown, stored = await gift_cards.purchase(
                    session, who, purchase, world.settings, idempotency_key=key, client_ip=IP
                )
                return Outcome(201, shown, stored)

        else:
            assert path == "/v1/gift-cards/redeem"

            async def work(session: AsyncSession, claim: Claim) -> Outcome:
                card = await gift_cards.find_by_code(
                    session, world.settings, body["code"], lock=True
                )
                result = await gift_cards.redeem(
                    session,
                    who,
                    card,
                    body["to_account_id"],
                    body.get("amount_minor"),
                    idempotency_key=key,
                    client_ip=IP,
                )
                return Outcome(200, result, result)

        return self._idempotent(who, key, path, body, work)

    def _new_request(self, who: Principal, path: str, body: dict[str, Any]) -> Outcome:
        key = str(uuid.uuid4())
        outcome = self._send(who, key, path, body)
        assert not outcome.replayed
        self.model.sent.append(Sent(who, key, path, body, outcome.status, outcome.stored_body))
        return outcome

    def _expect_problem(self, problem: type[Problem], call: Callable[[], object]) -> Problem:
        with pytest.raises(problem) as caught:
            call()
        return caught.value

    # -- transfers -----------------------------------------------------------------------

    def _destination(self, who: Principal, source: str, where: str, pick: int) -> tuple[str, str]:
        """(credited account id, IBAN the payer names) for own / other / external."""
        world = self.world
        if where == "own":
            target = next(a for a in world.accounts_of[who.id] if a != source)
            return target, world.number_of[target]
        if where == "other":
            others = [p for p in world.people if p.id != who.id]
            payee = others[pick % len(others)]
            target = world.accounts_of[payee.id][(pick // len(others)) % 2]
            return target, world.number_of[target]
        return world.clearing_id, EXTERNAL[pick % len(EXTERNAL)]

    @rule(
        payer=PICK,
        account=st.integers(0, 1),
        where=st.sampled_from(["own", "other", "external"]),
        pick=PICK,
        amount=AMOUNTS,
    )
    def transfer(self, payer: int, account: int, where: str, pick: int, amount: int) -> None:
        who = self.world.people[payer % len(self.world.people)]
        source = self.world.accounts_of[who.id][account]
        target, number = self._destination(who, source, where, pick)
        body = {
            "from_account_id": source,
            "to_account_number": number,
            "amount_minor": amount,
            "currency": CURRENCY,
            "reference": f"{where} {amount}",
        }
        reasons = [] if where == "own" else self.model.risk_reasons(who.id, number, amount)
        if self.model.available(source) < amount:  # a hold needs the funds too
            self._expect_problem(
                InsufficientFunds, lambda: self._new_request(who, "/v1/transfers", body)
            )
            return
        outcome = self._new_request(who, "/v1/transfers", body)
        result = outcome.body
        assert outcome.status == 201
        assert result["kind"] == {"own": "own", "other": "internal"}.get(where, "external")
        assert result["amount_minor"] == amount and result["to_account"]["number"] == number
        assert result["risk_reasons"] == reasons
        if where != "own":
            self.model.non_own[who.id] += 1
        if reasons:
            assert result["status"] == "requires_confirmation"
            assert "debug_otp" not in result  # the code comes from the authenticator app
            self.model.held.append(Held(result["id"], who, source, target, number, amount))
            return
        assert result["status"] == "completed"
        self.model.move(source, target, amount)
        self.model.completed_ids.append((who, result["id"]))
        if where != "own":
            self.model.paid_out(who.id, number, amount)

    @rule(payer=PICK, account=st.integers(0, 1), extra=st.integers(1, 10**6))
    def transfer_without_funds(self, payer: int, account: int, extra: int) -> None:
        who = self.world.people[payer % len(self.world.people)]
        source = self.world.accounts_of[who.id][account]
        _, number = self._destination(who, source, "own", 0)
        body = {
            "from_account_id": source,
            "to_account_number": number,
            "amount_minor": self.model.available(source) + extra,
            "currency": CURRENCY,
            "reference": "too much",
        }
        self._expect_problem(
            InsufficientFunds, lambda: self._new_request(who, "/v1/transfers", body)
        )

    # -- idempotency ---------------------------------------------------------------------

    @precondition(lambda self: self.model.sent)
    @rule(pick=PICK)
    def replay_same_request(self, pick: int) -> None:
        sent = self.model.sent[pick % len(self.model.sent)]
        outcome = self._send(sent.who, sent.key, sent.path, sent.body)
        # The stored answer, and no money moves (the invariants compare balances).
        assert outcome.replayed
        assert (outcome.status, outcome.body) == (sent.status, sent.stored)

    @precondition(lambda self: self.model.sent)
    @rule(pick=PICK, other_path=st.booleans())
    def reuse_key_for_another_request(self, pick: int, other_path: bool) -> None:
        sent = self.model.sent[pick % len(self.model.sent)]
        path, body = sent.path, dict(sent.body)
        if other_path:  # the same key on another endpoint is a reuse too
            path = "/v1/gift-cards" if sent.path == "/v1/transfers" else "/v1/transfers"
            body = {
                "from_account_id": self.world.accounts_of[sent.who.id][0],
                "to_account_number": EXTERNAL[0],
                "amount_minor": 1,
                "currency": CURRENCY,
            }
            if path == "/v1/gift-cards":
                del body["to_account_number"]
        else:
            body["amount_minor"] = (body.get("amount_minor") or 0) + 1
        self._expect_problem(
            IdempotencyKeyReused, lambda: self._send(sent.who, sent.key, path, body)
        )

    # -- held transfers ------------------------------------------------------------------

    def _open_held(self) -> list[Held]:
        return [h for h in self.model.held if h.status == "requires_confirmation"]

    def _confirm(self, held: Held, code: str) -> dict[str, Any]:
        async def work(session: AsyncSession) -> dict[str, Any] | Problem:
            return await confirmation.confirm(
                session, held.who, held.id, code, self.world.settings, IP
            )

        result = self._call(work)
        if isinstance(result, Problem):
            raise result  # after the commit, as the endpoint does
        return result

    def _cancel(self, held: Held) -> dict[str, Any]:
        async def work(session: AsyncSession) -> dict[str, Any]:
            return await confirmation.cancel(session, held.who, held.id, IP)

        return self._call(work)

    def _next_code(self, who: Principal) -> str:
        """The code of the next time step: an accepted code is never offered again."""
        self.world.clock[0] += 30
        return code_at(self.world.clock[0])

    @precondition(lambda self: self._open_held())
    @rule(pick=PICK)
    def confirm_held(self, pick: int) -> None:
        open_ = self._open_held()
        held = open_[pick % len(open_)]
        # The hold reserved the money: confirming always finds the funds.
        result = self._confirm(held, self._next_code(held.who))
        self.model.last_step[held.who.id] = int(self.world.clock[0]) // 30
        assert result["status"] == "completed" and result["id"] == held.id
        held.status = "completed"
        self.model.move(held.source, held.target, held.amount)
        self.model.completed_ids.append((held.who, held.id))
        self.model.paid_out(held.who.id, held.number, held.amount)

    @precondition(lambda self: self._open_held())
    @rule(pick=PICK)
    def confirm_with_wrong_code(self, pick: int) -> None:
        open_ = self._open_held()
        held = open_[pick % len(open_)]
        wrong = wrong_code(self.world.clock[0])
        problem = self._expect_problem(InvalidConfirmationCode, lambda: self._confirm(held, wrong))
        held.attempts += 1
        if held.attempts >= MAX_CONFIRM_ATTEMPTS:
            held.status = "cancelled"
        assert problem.extra["status"] == held.status
        assert problem.extra["attempts_remaining"] == MAX_CONFIRM_ATTEMPTS - held.attempts

    @precondition(lambda self: self._open_held())
    @rule(pick=PICK)
    def replay_a_used_code(self, pick: int) -> None:
        """The customer's last accepted code, again, while it is still in the window:
        refused, and no attempt is counted."""
        open_ = self._open_held()
        held = open_[pick % len(open_)]
        last = self.model.last_step.get(held.who.id)
        if last is None or last < int(self.world.clock[0]) // 30 - 1:
            return  # that code has left the drift window: it would just be wrong
        code = code_at(last * 30)
        problem = self._expect_problem(InvalidConfirmationCode, lambda: self._confirm(held, code))
        assert problem.extra["reason"] == "code_already_used"
        assert problem.extra["attempts_remaining"] == MAX_CONFIRM_ATTEMPTS - held.attempts

    @precondition(lambda self: self._open_held())
    @rule(pick=PICK)
    def hold_expires(self, pick: int) -> None:
        """Time passes for one held transfer: its expires_at is now behind the database
        clock (now(): the whole run is one transaction). Nothing else happens; its hold
        must stop counting at once."""
        open_ = self._open_held()
        held = open_[pick % len(open_)]

        async def expire(session: AsyncSession) -> None:
            await session.execute(
                text(
                    "UPDATE holds SET expires_at = now() - interval '1 second'"
                    " WHERE id = (SELECT hold_id FROM transfers WHERE id = :id)"
                ),
                {"id": held.id},
            )

        self._call(expire)
        held.status = "expired"

    @precondition(lambda self: any(h.status == "expired" for h in self.model.held))
    @rule()
    def sweeper_runs(self) -> None:
        expired = [h for h in self.model.held if h.status == "expired"]
        assert self._call(holds.sweep_expired) == len(expired)
        for held in expired:
            held.status = "cancelled"

    @precondition(lambda self: any(h.status == "expired" for h in self.model.held))
    @rule(pick=PICK)
    def confirm_expired(self, pick: int) -> None:
        expired = [h for h in self.model.held if h.status == "expired"]
        held = expired[pick % len(expired)]
        code = self._next_code(held.who)
        self._expect_problem(ConfirmationExpired, lambda: self._confirm(held, code))
        held.status = "cancelled"

    @precondition(lambda self: self.model.held)
    @rule(pick=PICK)
    def cancel_transfer(self, pick: int) -> None:
        held = self.model.held[pick % len(self.model.held)]
        if held.status == "completed":
            self._expect_problem(InvalidState, lambda: self._cancel(held))
            return
        assert self._cancel(held)["status"] == "cancelled"  # cancelling twice is a no-op
        held.status = "cancelled"

    @precondition(lambda self: any(h.status != "requires_confirmation" for h in self.model.held))
    @rule(pick=PICK)
    def confirm_after_the_fact(self, pick: int) -> None:
        done = [h for h in self.model.held if h.status != "requires_confirmation"]
        held = done[pick % len(done)]
        code = code_at(self.world.clock[0])
        if held.status == "cancelled":
            self._expect_problem(InvalidState, lambda: self._confirm(held, code))
        elif held.status == "expired":
            self._expect_problem(ConfirmationExpired, lambda: self._confirm(held, code))
            held.status = "cancelled"
        else:  # a completed transfer is returned unchanged; no money moves again
            assert self._confirm(held, code)["status"] == "completed"

    # -- gift cards ----------------------------------------------------------------------

    @rule(payer=PICK, account=st.integers(0, 1), amount=AMOUNTS)
    def buy_gift_card(self, payer: int, account: int, amount: int) -> None:
        who = self.world.people[payer % len(self.world.people)]
        source = self.world.accounts_of[who.id][account]
        body = {"from_account_id": source, "amount_minor": amount, "currency": CURRENCY}
        if self.model.available(source) < amount:  # held money cannot buy a card
            self._expect_problem(
                InsufficientFunds, lambda: self._new_request(who, "/v1/gift-cards", body)
            )
            return
        outcome = self._new_request(who, "/v1/gift-cards", body)
        assert outcome.body["code"] and outcome.stored_body["code"] is None
        assert outcome.body["balance_minor"] == amount
        self.model.move(source, self.world.liability_id, amount)
        self.model.cards.append(Card(outcome.body["code"], amount))

    def _redeem(self, pick: int, full: bool, amount: int | None) -> None:
        card = self.model.cards[pick % len(self.model.cards)]
        who = self.world.people[(pick // 7) % len(self.world.people)]  # any code holder
        target = self.world.accounts_of[who.id][pick % 2]
        body: dict[str, Any] = {"code": card.code, "to_account_id": target}
        if not full:
            body["amount_minor"] = amount
        wanted = card.balance if full else amount
        assert wanted is not None
        if wanted <= 0 or wanted > card.balance:
            self._expect_problem(
                GiftCardInsufficientBalance,
                lambda: self._new_request(who, "/v1/gift-cards/redeem", body),
            )
            return
        result = self._new_request(who, "/v1/gift-cards/redeem", body).body
        assert result["redeemed_minor"] == wanted
        card.balance -= wanted
        assert result["gift_card"]["balance_minor"] == card.balance
        self.model.move(self.world.liability_id, target, wanted)

    @precondition(lambda self: self.model.cards)
    @rule(pick=PICK, fraction=st.floats(0.01, 1.0))
    def redeem_part(self, pick: int, fraction: float) -> None:
        card = self.model.cards[pick % len(self.model.cards)]
        self._redeem(pick, full=False, amount=max(1, int(card.balance * fraction)))

    @precondition(lambda self: self.model.cards)
    @rule(pick=PICK)
    def redeem_all(self, pick: int) -> None:
        self._redeem(pick, full=True, amount=None)

    @precondition(lambda self: self.model.cards)
    @rule(pick=PICK, extra=st.integers(1, 1000))
    def redeem_too_much(self, pick: int, extra: int) -> None:
        card = self.model.cards[pick % len(self.model.cards)]
        self._redeem(pick, full=False, amount=card.balance + extra)

    # -- invariants ----------------------------------------------------------------------

    async def _db_balances(self) -> dict[str, int]:
        async with self.world.sessionmaker() as session:
            rows = await session.execute(text("SELECT id, balance_minor FROM accounts"))
            return {str(a): int(b) for a, b in rows.all()}

    async def _db_state(self) -> tuple[Sequence[Any], dict[str, int], int, int]:
        async with self.world.sessionmaker() as session:
            accounts = (
                await session.execute(
                    text(
                        "SELECT a.id, a.currency, a.customer_id, a.balance_minor,"
                        " COALESCE(SUM(e.amount_minor), 0),"
                        " (SELECT COALESCE(SUM(h.amount_minor), 0) FROM holds h"
                        "  WHERE h.account_id = a.id AND h.status = 'active'"
                        "  AND h.expires_at > now())"
                        " FROM accounts a LEFT JOIN ledger_entries e ON e.account_id = a.id"
                        " GROUP BY a.id"
                    )
                )
            ).all()
            cards = (
                await session.execute(text("SELECT code_hash, balance_minor FROM gift_cards"))
            ).all()
            unbalanced = await session.scalar(
                text(
                    "SELECT count(*) FROM (SELECT journal_id FROM ledger_entries"
                    " GROUP BY journal_id, currency HAVING SUM(amount_minor) <> 0) j"
                )
            )
            transfers_with_journal = await session.scalar(
                text(
                    "SELECT count(*) FROM transfers t JOIN journals j ON j.id = t.journal_id"
                    " WHERE t.status = 'completed'"
                )
            )
            # What the API shows (the ORM's computed available_minor), per account.
            available = {a.id: a.available_minor for a in await session.scalars(select(Account))}
            # The daily-limit totals the transfer path reads agree with the transfers.
            assert await daily_usage_problems(session) == []
        return (
            [(*row, available[row[0]]) for row in accounts],
            {str(h): int(b) for h, b in cards},
            int(unbalanced or 0),
            int(transfers_with_journal or 0),
        )

    @invariant()
    def ledger_matches_model(self) -> None:
        accounts, cards, unbalanced, transfers_with_journal = self.world.run(self._db_state())
        totals: dict[str, int] = defaultdict(int)
        for account_id, currency, customer_id, balance, entries, held, available in accounts:
            totals[currency] += balance
            assert balance == entries, (account_id, balance, entries)
            assert available == balance - held, (account_id, available, balance, held)
            assert held == self.model.held_on(account_id), (account_id, held)
            if customer_id is not None:
                assert available >= 0, (account_id, available)
                assert balance >= 0, (account_id, balance)
        assert all(total == 0 for total in totals.values()), totals
        db = {str(a): int(b) for a, _, _, b, _, _, _ in accounts}
        assert db == self.model.balances
        assert unbalanced == 0
        # Gift cards: the liability account holds exactly what the cards hold.
        assert sum(cards.values()) == self.model.balances[self.world.liability_id]
        assert sorted(cards.values()) == sorted(c.balance for c in self.model.cards)
        # Every completed transfer has its journal, and only those moved money.
        assert transfers_with_journal == len(self.model.completed_ids)


def test_ledger_state_machine(
    backend: str,
    migrated_urls: dict[str, str],
    rsa_keys: Keys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service_settings = make_settings(
        migrated_urls[backend],
        rsa_keys,
        daily_transfer_limit_minor=10**12,  # the UTC day may turn during a run
        risk_new_payee_threshold_minor=NEW_PAYEE_THRESHOLD,
        risk_large_amount_minor=LARGE_AMOUNT,
        risk_large_multiplier=LARGE_MULTIPLIER,
        risk_velocity_max_transfers=VELOCITY_MAX,
        confirmation_max_attempts=MAX_CONFIRM_ATTEMPTS,
    )
    with asyncio.Runner() as loop:
        engine = create_engine(service_settings)
        connection = loop.run(engine.connect().start())
        outer = loop.run(connection.begin().start())
        try:

            class Machine(LedgerMachine):
                world = loop.run(_build_world(loop, connection, service_settings))

            monkeypatch.setattr(step_up_methods, "now", lambda: Machine.world.clock[0])

            run_state_machine_as_test(Machine, settings=settings.get_profile(PROFILE))
        finally:
            loop.run(outer.rollback())
            loop.run(connection.close())
            loop.run(engine.dispose())


async def _build_world(
    loop: asyncio.Runner, connection: AsyncConnection, service_settings: Settings
) -> World:
    sessionmaker = async_sessionmaker(
        bind=connection,
        join_transaction_mode="create_savepoint",
        expire_on_commit=False,
        autoflush=False,
    )
    async with sessionmaker() as session, session.begin():
        await seed(session, CUSTOMERS, service_settings, history=False)
    async with sessionmaker() as session:
        # Through the models: names and account numbers are encrypted at rest.
        customers = (
            await session.execute(
                select(Customer.id, Customer.username, Customer.display_name).order_by(
                    Customer.username
                )
            )
        ).all()
        accounts = (
            await session.execute(
                select(
                    Account.id,
                    Account.customer_id,
                    Account.number,
                    Account.type,
                    Account.system_code,
                )
            )
        ).all()
    people = [
        Principal(id=str(c), roles=frozenset({"customer"}), username=u, display_name=n)
        for c, u, n in customers
    ]
    accounts_of: dict[str, list[str]] = defaultdict(list)
    system: dict[str, str] = {}
    for account_id, customer_id, _number, _type, code in sorted(accounts, key=lambda r: r[3]):
        if customer_id is None:
            system[str(code)] = str(account_id)
        else:  # checking before savings (sorted by type)
            accounts_of[str(customer_id)].append(str(account_id))
    assert all(len(ids) == 2 for ids in accounts_of.values()) and len(people) == CUSTOMERS
    return World(
        loop=loop,
        connection=connection,
        sessionmaker=sessionmaker,
        settings=service_settings,
        people=people,
        accounts_of=dict(accounts_of),
        number_of={str(a): str(n) for a, _, n, _, _ in accounts},
        clearing_id=system[f"clearing:{CURRENCY}"],
        liability_id=system[f"gift_card_liability:{CURRENCY}"],
    )
