"""Why a call to core_banking did not give its answer.

`CoreBankingUnavailable` (down, slow, 5xx), `CoreBankingUnauthorized` (token refused),
`CoreBankingRejected` (a 4xx with core_banking's problem+json, read into `Problem`).
What the customer is told for each is in the answer tables (actions/core_banking_api/answers.py).
"""

from typing import Any

import httpx
from pydantic import ValidationError

from actions.core_banking_api.models import Problem


class CoreBankingError(Exception):
    """core_banking could not answer the request."""


class CoreBankingUnavailable(CoreBankingError):
    """core_banking is down, slow or failing (5xx, timeout, connection refused)."""


class CoreBankingUnauthorized(CoreBankingError):
    """The customer's token was refused (expired or revoked)."""


class CoreBankingRejected(CoreBankingError):
    """core_banking refused the request (4xx): `status` is the HTTP status, `problem` its
    problem+json body and `kind` the last segment of the problem `type`."""

    def __init__(self, status: int, problem: Problem) -> None:
        super().__init__(f"{status}: {problem.title or problem.detail}")
        self.status = status
        self.problem = problem

    @property
    def kind(self) -> str:
        return self.problem.kind

    @classmethod
    def from_response(cls, response: httpx.Response) -> "CoreBankingRejected":
        try:
            body = response.json()
        except ValueError:
            body = {}
        return cls(response.status_code, problem_from(body))


def problem_from(body: Any) -> Problem:
    """The problem in an error body, keeping every member that reads as its field should
    (a malformed member is dropped, not the whole answer)."""
    if not isinstance(body, dict):
        return Problem()
    try:
        return Problem.parse_obj(body)
    except ValidationError as error:
        malformed = {str(e["loc"][0]) for e in error.errors() if e.get("loc")}
        return Problem.parse_obj({k: v for k, v in body.items() if k not in malformed})
