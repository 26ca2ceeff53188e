"""What the customer is told when core_banking did not give its answer.

Each domain (transfers, payees, gift cards; cards, balances and history use `FAILURES`)
has one `AnswerTable`: core_banking's problem kinds (core_banking/problems.py, the
`type` of its problem+json) and HTTP statuses, each with the `utter_*` response that
explains it. An action catches `CoreBankingError` once and lets its table answer, in
place of a ladder of `except` clauses per call. tests/core_banking checks that every kind
a table names is one core_banking can send.
"""

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from actions.core_banking_api.errors import (
    CoreBankingError,
    CoreBankingRejected,
    CoreBankingUnauthorized,
)
from actions.core_banking_api.models import Problem


class Then(enum.Enum):
    """What the task does after the answer."""

    END = "end"  # it is over: its slots are reset
    ASK_AGAIN = "ask_again"  # the customer is asked again (a new step-up code)
    KEEP = "keep"  # it stays as it is, to be tried again (the bank was not reached)


@dataclass(frozen=True)
class Answer:
    response: str  # an utter_* response of the bot's domain
    values: Mapping[str, Any] = field(default_factory=dict)  # the response's {placeholders}
    then: Then = Then.END


# A rule reads the problem and what the action knows (`context`: labels, last4, ...).
Rule = Callable[[Problem, Mapping[str, Any]], Answer]


def say(response: str, *values: str, then: Then = Then.END, **fixed: Any) -> Rule:
    """The rule that answers `response`, filled with the action's `values` by name (and
    any `fixed` ones)."""

    def rule(problem: Problem, context: Mapping[str, Any]) -> Answer:
        return Answer(response, {**fixed, **{name: context[name] for name in values}}, then)

    return rule


SESSION_EXPIRED = say("utter_session_expired")
BACKEND_UNAVAILABLE = say("utter_backend_unavailable")


@dataclass(frozen=True)
class AnswerTable:
    # By problem kind ("insufficient-funds") first, then by HTTP status (404).
    problems: Mapping[str | int, Rule]
    rejected: Rule = BACKEND_UNAVAILABLE  # any other refusal (4xx)
    unauthorized: Rule = SESSION_EXPIRED  # the customer's login expired
    unavailable: Rule = BACKEND_UNAVAILABLE  # down, slow or failing

    def answer(self, error: CoreBankingError, **context: Any) -> Answer:
        if isinstance(error, CoreBankingRejected):
            rule = self.problems.get(error.kind) or self.problems.get(error.status) or self.rejected
            return rule(error.problem, context)
        if isinstance(error, CoreBankingUnauthorized):
            return self.unauthorized(Problem(), context)
        return self.unavailable(Problem(), context)

    def tell(self, dispatcher: Any, error: CoreBankingError, **context: Any) -> Answer:
        """Say the answer to `error` (returned for what the task does next)."""
        answer = self.answer(error, **context)
        dispatcher.utter_message(response=answer.response, **answer.values)
        return answer


# A call that failed for a reason that is not about the request itself: the login
# expired, or the bank could not be reached (or refused what the action never expected).
FAILURES = AnswerTable(problems={})


def say_failure(dispatcher: Any, error: CoreBankingError) -> None:
    FAILURES.tell(dispatcher, error)
