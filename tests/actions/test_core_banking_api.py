"""The actions' core_banking client: how error bodies are read, how the answer tables
choose a reply, and that every reply a table can give is a response of the bot's domain
(the models themselves are checked against core_banking's OpenAPI by
tests/core_banking/test_actions_client_contract.py; every other action test calls a
real core_banking through them)."""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk.executor import CollectingDispatcher

from actions.core_banking_api import (
    FAILURES,
    AnswerTable,
    CoreBankingRejected,
    CoreBankingUnauthorized,
    CoreBankingUnavailable,
    Problem,
    Then,
    Transfer,
    say,
)
from actions.core_banking_api.client import _parsed
from actions.core_banking_api.errors import problem_from
from actions.gift_card_purchase import BUY_ANSWERS
from actions.gift_cards import CODE_ANSWERS
from actions.payee_removal import REMOVE_PAYEE_ANSWERS
from actions.payees import ADD_PAYEE_ANSWERS
from actions.transfers import TRANSFER_ANSWERS

ROOT = Path(__file__).resolve().parents[2]
PROBLEMS = "https://bank.example/problems/"
TABLES = {
    "transfers": TRANSFER_ANSWERS,
    "add payee": ADD_PAYEE_ANSWERS,
    "remove payee": REMOVE_PAYEE_ANSWERS,
    "buy gift card": BUY_ANSWERS,
    "gift card code": CODE_ANSWERS,
    "failures": FAILURES,
}


def rejected(http_status: int, kind: str, **members: Any) -> CoreBankingRejected:
    return CoreBankingRejected(http_status, Problem(type=PROBLEMS + kind, **members))


def test_a_problem_is_read_as_far_as_it_goes() -> None:
    problem = problem_from(
        {
            "type": PROBLEMS + "invalid-confirmation-code",
            "status": "cancelled",  # core_banking's held-transfer state, not the HTTP one
            "attempts_remaining": "two",  # malformed: dropped, the rest is kept
            "remaining_minor": 500,
            "unknown": [1],
        }
    )
    assert problem.kind == "invalid-confirmation-code"
    assert problem.transfer_status == "cancelled"
    assert (problem.attempts_remaining, problem.remaining_minor) == (None, 500)
    assert problem_from(["not", "an", "object"]) == Problem()
    assert problem_from({"type": PROBLEMS + "x", "status": 422}).transfer_status is None


def test_a_table_answers_by_kind_then_status_then_its_default() -> None:
    table = AnswerTable(
        problems={
            "gift-card-blocked": say("utter_by_kind", "last4"),
            404: say("utter_by_status", then=Then.KEEP, account_label="account"),
        },
        rejected=say("utter_default"),
    )
    by_kind = table.answer(rejected(404, "gift-card-blocked"), last4="1234")
    assert (by_kind.response, dict(by_kind.values)) == ("utter_by_kind", {"last4": "1234"})
    by_status = table.answer(rejected(404, "not-found"), last4="1234")
    assert (by_status.response, dict(by_status.values), by_status.then) == (
        "utter_by_status",
        {"account_label": "account"},
        Then.KEEP,
    )
    assert table.answer(rejected(422, "validation-error")).response == "utter_default"
    assert table.answer(CoreBankingUnauthorized("expired")).response == "utter_session_expired"
    assert table.answer(CoreBankingUnavailable("down")).response == "utter_backend_unavailable"


def test_a_step_up_code_refusal_says_what_happens_next() -> None:
    def answer(**members: Any) -> tuple[str, Then]:
        found = TRANSFER_ANSWERS.answer(
            rejected(422, "invalid-confirmation-code", **members),
            source_label="checking account",
            currency="EUR",
        )
        return found.response, found.then

    assert answer(reason="code_already_used", attempts_remaining=3) == (
        "utter_otp_already_used",
        Then.ASK_AGAIN,
    )
    assert answer(attempts_remaining=2, status="requires_confirmation") == (
        "utter_wrong_otp",
        Then.ASK_AGAIN,
    )
    assert answer(attempts_remaining=0, status="cancelled") == (
        "utter_transfer_blocked_after_otp",
        Then.END,
    )
    unreachable = TRANSFER_ANSWERS.answer(CoreBankingUnavailable("down"))
    assert unreachable.then is Then.KEEP  # the held transfer still waits for its code


def test_tell_says_the_answer() -> None:
    dispatcher = CollectingDispatcher()
    error = rejected(422, "daily-limit-exceeded", remaining_minor=12_50)
    TRANSFER_ANSWERS.tell(dispatcher, error, source_label="checking account", currency="EUR")
    [message] = dispatcher.messages
    assert message["response"] == "utter_daily_limit_remaining"
    assert "12.50" in message["remaining"]


def test_an_answer_that_breaks_the_contract_is_an_outage_not_a_crash() -> None:
    with pytest.raises(CoreBankingUnavailable):
        _parsed(Transfer, {"id": "t1", "status": "completed"})  # no amount, no currency


class AnyContext(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return key


def _domain_responses() -> set[str]:
    responses: set[str] = set()
    for path in (ROOT / "bot" / "domain").glob("*.yml"):
        responses |= set((yaml.safe_load(path.read_text()) or {}).get("responses") or {})
    return responses


@pytest.mark.parametrize("name", TABLES)
def test_every_reply_of_a_table_is_a_response_of_the_domain(name: str) -> None:
    table = TABLES[name]
    rules = [*table.problems.values(), table.rejected, table.unauthorized, table.unavailable]
    problems = [
        Problem(),
        Problem(detail="Source and destination are the same account"),
        Problem(remaining_minor=100, balance_minor=100),
        Problem(reason="code_already_used"),
        Problem(attempts_remaining=2),
        Problem(attempts_remaining=0),
    ]
    said = {rule(problem, AnyContext()).response for rule in rules for problem in problems}
    assert said - _domain_responses() == set()
    assert all(re.fullmatch(r"utter_\w+", response) for response in said)
