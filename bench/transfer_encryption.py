"""Per-transfer CPU cost of encrypting personal data on the transfer path (issue 19).

    PYTHONPATH=. .venv/bin/python -m bench.transfer_encryption [--transfers 2000] [--runs 5]

Runs, in this process and without a database, what a completed transfer computes in
Python to build its statements (core_banking/transfers/booking.py): the destination's
blind indexes and the two locked account numbers decrypted (lock_accounts), the journal
and its entries with their indexes (build_posting, posting_statements), the transfer row
(``seal``) and the stored Idempotency-Key response (``Claim.finish``). It does that
--transfers times with the service's cipher (AES-256-GCM and HMAC-SHA256, development
keys) and again with a cipher that returns its input, and prints the CPU time (this
process's, ``time.process_time``) per transfer of both and their difference: what the
encryption adds. The payer's and the payee's names were decrypted before this work too
(migration 0005) and are not counted. Then the cost of each primitive. Median of --runs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from core_banking.fieldcrypt import FieldCipher
from core_banking.iban import OTHER_BANK_CODE, OUR_BANK_CODE, make_iban
from core_banking.idempotency import Claim
from core_banking.ledger.repository import posting_statements
from core_banking.ledger.service import Leg, build_posting
from core_banking.models import Transfer
from core_banking.models import encrypted as encrypted_columns
from core_banking.models.account import NUMBER_CONTEXT, number_indexes
from core_banking.models.encrypted import opened, seal
from core_banking.settings import Settings
from core_banking.transfers.booking import TRANSFER_COLUMNS
from core_banking.transfers.views import render

SOURCE = make_iban(OUR_BANK_CODE, "0000000101")
DESTINATION = make_iban(OTHER_BANK_CODE, "4242424242")


class CopyingCipher(FieldCipher):
    """Same interface, no cryptography: the baseline."""

    def __init__(self) -> None:
        pass

    def encrypt(self, plaintext: str, *, context: str) -> str:
        return plaintext

    def decrypt(self, stored: str, *, context: str) -> str:
        return stored

    def blind_index(self, normalised: str, *, context: str) -> str:
        return normalised

    def blind_indexes(self, normalised: str, *, context: str) -> list[str]:
        return [normalised]


def example_transfer() -> Transfer:
    return Transfer(
        id="8d0f1f5e-0f8e-4a43-9a59-3f3c1f6d9a10",
        customer_id="3b2f4c1a-9d8e-4f6a-8b7c-1d2e3f4a5b6c",
        from_account_id="0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        to_account_id="5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b",
        to_account_number=DESTINATION,
        to_name="Zoe Quartermaine",
        kind="external",
        amount_minor=4_200,
        currency="EUR",
        reference="dinner on Friday",
        status="completed",
        risk_reasons="",
        otp_attempts=0,
        created_at=datetime(2026, 12, 6, 12, 0, tzinfo=UTC),
        journal_id=None,
        completed_at=datetime(2026, 12, 6, 12, 0, tzinfo=UTC),
        hold_id=None,
    )


def transfer_work(
    transfer: Transfer, stored: dict[str, Any], numbers: tuple[str, str]
) -> Callable[[], None]:
    """One completed transfer's Python work that encryption touches."""
    row = {c: getattr(transfer, c) for c in TRANSFER_COLUMNS}
    legs = [
        Leg(transfer.from_account_id, -4_200, "EUR", transfer.to_name, DESTINATION),
        Leg(transfer.to_account_id, 4_200, "EUR", "Anna Meier", SOURCE),
    ]
    balances = {transfer.from_account_id: 100_000, transfer.to_account_id: 0}

    def work() -> None:
        number_indexes(DESTINATION)
        for number in numbers:
            opened(number, context=NUMBER_CONTEXT)
        posting = build_posting("transfer", "dinner on Friday", legs, balances, transfer.created_at)
        posting_statements(posting.journal, posting.entries, posting.deltas)
        seal(Transfer.__table__, row)
        Claim("c0ffee00-0000-4000-8000-000000000000").finish(201, stored)

    return work


def cpu_per_call(call: Callable[[], Any], calls: int, runs: int) -> float:
    """Median CPU microseconds per call."""
    took = []
    for _ in range(runs):
        began = time.process_time()
        for _ in range(calls):
            call()
        took.append((time.process_time() - began) / calls * 1e6)
    return statistics.median(took)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--transfers", type=int, default=2_000, help="per run")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    real = encrypted_columns.use_settings(Settings())
    transfer = example_transfer()
    stored = asyncio.run(render(None, transfer, known=(SOURCE, "Anna Meier")))  # type: ignore[arg-type]
    sealed_numbers = (
        real.encrypt(SOURCE, context=NUMBER_CONTEXT),
        real.encrypt(DESTINATION, context=NUMBER_CONTEXT),
    )
    encrypted = cpu_per_call(
        transfer_work(transfer, stored, sealed_numbers), args.transfers, args.runs
    )
    encrypted_columns._active = CopyingCipher()
    plain = cpu_per_call(
        transfer_work(transfer, stored, (SOURCE, DESTINATION)), args.transfers, args.runs
    )
    encrypted_columns.use_settings(Settings())
    print(f"transfer rows built, encrypted:   {encrypted:7.1f} µs CPU per transfer")
    print(f"transfer rows built, not:         {plain:7.1f} µs CPU per transfer")
    print(f"added by the encryption:          {encrypted - plain:7.1f} µs CPU per transfer")
    print("  (9 encryptions, 3 HMACs, 2 decryptions; bench/ledger.py measures ~4-5 ms of")
    print("  server CPU per transfer in all: core_banking/README.md 'Performance')")

    body = '{"id": "..."}'.ljust(len(str(stored)), " ")
    primitives: dict[str, Callable[[], Any]] = {
        "encrypt a name (16 chars)": lambda: real.encrypt("Zoe Quartermaine", context="t.c"),
        f"encrypt a response ({len(body)} chars)": lambda: real.encrypt(body, context="t.c"),
        "decrypt an IBAN": lambda: real.decrypt(sealed_numbers[0], context=NUMBER_CONTEXT),
        "blind index (HMAC-SHA256)": lambda: real.blind_index(SOURCE, context=NUMBER_CONTEXT),
    }
    for label, call in primitives.items():
        print(f"{label:<34} {cpu_per_call(call, args.transfers, args.runs):7.2f} µs")


if __name__ == "__main__":
    main()
