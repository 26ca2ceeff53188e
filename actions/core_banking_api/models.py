"""What the actions read from core_banking's answers, as pydantic (1.x, Rasa's pin) models.

Each answer model mirrors one response schema of core_banking's OpenAPI (named in
`OPENAPI_SCHEMAS`) with only the fields the actions use; anything else core_banking sends
is ignored. Each request model mirrors the request schema it is sent as
(`OPENAPI_REQUESTS`). The services meet over HTTP only, so nothing here imports
core_banking: tests/core_banking/test_actions_client_contract.py reads this file's fields
and checks each against core_banking's OpenAPI, and `Problem`'s against the problems it
renders.
"""

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Extra, StrictInt

# actions model -> core_banking's OpenAPI component it mirrors (read by the contract test).
OPENAPI_SCHEMAS = {
    "Account": "AccountRead",
    "Counterparty": "Counterparty",
    "Transaction": "TransactionRead",
    "Transfer": "TransferRead",
    "SentTransfer": "TransferRead",
    "TransferParty": "AccountRef",
    "Payee": "PayeeRead",
    "Card": "CardRead",
    "CardReported": "ReportLostResult",
    "GiftCardReceipt": "GiftCardCreated",
    "GiftCardBalance": "GiftCardBalance",
    "GiftCardRedemption": "GiftCardRedemption",
    "DailyLimit": "DailyLimit",
}
# actions request model -> core_banking's OpenAPI request body it is sent as.
OPENAPI_REQUESTS = {
    "NewTransfer": "TransferCreate",
    "TransferCode": "ConfirmTransfer",
    "CardLoss": "ReportLost",
    "NewPayee": "PayeeCreate",
    "GiftCardPurchase": "GiftCardPurchase",
    "GiftCardCode": "CodeLookup",
    "GuestGiftCardCode": "GuestCodeLookup",
    "GiftCardRedeem": "GiftCardRedeem",
}


class Model(BaseModel):
    class Config:
        extra = Extra.ignore  # core_banking may add fields; the actions read theirs
        allow_mutation = False


class Account(Model):
    id: str
    number: str  # the IBAN
    type: str  # checking, savings
    currency: str
    balance_minor: int
    available_minor: int  # the balance less the holds of transfers awaiting step-up


class Counterparty(Model):
    name: str | None  # other customers' names are masked ("Anna M.")


class Transaction(Model):
    booked_at: datetime
    kind: str  # transfer, own_transfer, card_payment, incoming_payment, ...
    amount_minor: int  # signed for the account: negative is money out
    currency: str
    description: str
    counterparty: Counterparty

    @property
    def booked_on(self) -> str:
        return self.booked_at.date().isoformat()


class Transfer(Model):
    id: str
    status: str  # completed, requires_confirmation (held for step-up), cancelled, ...
    amount_minor: int
    currency: str

    @property
    def held_for_step_up(self) -> bool:
        return self.status == "requires_confirmation"


class TransferParty(Model):
    number: str  # the IBAN
    name: str | None  # other customers' names are masked ("Anna M.")


class SentTransfer(Transfer):
    """A transfer as the customer's list shows it (newest first)."""

    kind: str  # own, internal, external
    created_at: datetime
    to_account: TransferParty


class DailyLimit(Model):
    """Transfers to other people per day (own-account moves are not limited), in minor
    units of the accounts' currency."""

    limit_minor: int
    remaining_minor: int  # today's: the limit less completed transfers and active holds


class Payee(Model):
    id: str
    name: str
    iban: str  # electronic form, e.g. DE89370400440532013000


class Card(Model):
    id: str
    brand: str
    last4: str
    status: str  # active, frozen, cancelled, lost, stolen
    expiry_month: int
    expiry_year: int


class CardReported(Model):
    """A card reported lost or stolen: cancelled, and its replacement issued."""

    reported: Card
    replacement: Card


class GiftCardReceipt(Model):
    last4: str
    currency: str
    initial_minor: int
    recipient_name: str | None
    code: str | None  # only in the response that bought the card; null in replays


class GiftCardBalance(Model):
    last4: str
    status: str  # active, blocked, expired
    balance_minor: int
    currency: str
    expires_at: datetime

    @property
    def expires_on(self) -> date:
        return self.expires_at.date()


class GiftCardRedemption(Model):
    redeemed_minor: int
    currency: str
    gift_card: GiftCardBalance


class Problem(Model):
    """core_banking's RFC 9457 problem+json (core_banking/problems.py `render`), with the
    extension members the actions answer from. Every field is optional: an error body is
    read as far as it goes, never refused."""

    type: str = ""  # https://bank.example/problems/<kind>
    title: str | None = None
    detail: str | None = None
    # The HTTP status, except in a refused step-up code, where core_banking puts the held
    # transfer's state here ("requires_confirmation", "cancelled").
    status: StrictInt | str | None = None
    reason: str | None = None  # "code_already_used": the right code, spent already
    attempts_remaining: StrictInt | None = None  # step-up codes left for a held transfer
    remaining_minor: StrictInt | None = None  # what the daily transfer limit still allows
    balance_minor: StrictInt | None = None  # a gift card's balance, when it was too low

    @property
    def kind(self) -> str:
        """The last segment of `type` ("insufficient-funds")."""
        return self.type.rstrip("/").rsplit("/", 1)[-1]

    @property
    def transfer_status(self) -> str | None:
        return self.status if isinstance(self.status, str) else None


# --- requests (sent without their None fields: core_banking's defaults apply) ----------


class NewTransfer(Model):
    """To an IBAN (`to_account_number`) or to a saved payee (`payee_id`): exactly one."""

    from_account_id: str
    to_account_number: str | None = None
    payee_id: str | None = None
    amount_minor: int
    currency: str
    reference: str


class TransferCode(Model):
    code: str  # the 6 digits the customer's authenticator app shows now


class CardLoss(Model):
    reason: Literal["lost", "stolen"]


class NewPayee(Model):
    name: str
    iban: str


class GiftCardPurchase(Model):
    from_account_id: str
    amount_minor: int
    currency: str
    recipient_name: str | None = None
    message: str | None = None


class GiftCardCode(Model):
    code: str


class GuestGiftCardCode(GiftCardCode):
    requester: str  # the chat session wrong codes are counted against


class GiftCardRedeem(Model):
    code: str
    to_account_id: str
    amount_minor: int | None = None  # None: the whole balance
