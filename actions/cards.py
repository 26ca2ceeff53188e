"""Card actions: list, freeze and unfreeze the customer's cards.

Freezing is reversible and protects the customer, so it runs at once (no confirmation);
with several candidate cards the customer picks one from buttons first.
"""

from typing import Any, Literal

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import core_banking_api
from actions.core_banking_api import Card
from actions.customer import Customer, for_customer

_STATUS_TEXT = {
    "active": "active",
    "frozen": "frozen",
    "lost": "reported lost",
    "stolen": "reported stolen",
    "expired": "expired",
}


async def _cards_or_explain(
    dispatcher: CollectingDispatcher, tracker: Tracker
) -> tuple[Customer, list[Card]] | None:
    return await for_customer(dispatcher, tracker, core_banking_api.list_cards)


def said_card_not_found(dispatcher: CollectingDispatcher, wanted: Any, cards: list[Card]) -> bool:
    """ "The card ending 9999" when no card of the customer's ends so: say so (with the
    cards there are) and return True; the caller then changes no card at all."""
    if not wanted or not cards or any(c.last4 == str(wanted) for c in cards):
        return False
    card_list = ", ".join(f"•••• {c.last4}" for c in cards)
    dispatcher.utter_message(
        response="utter_card_not_found", last4=str(wanted), card_list=card_list
    )
    return True


class ActionListCards(Action):
    def name(self) -> str:
        return "action_list_cards"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        found = await _cards_or_explain(dispatcher, tracker)
        if found is None:
            return []
        _, cards = found
        if not cards:
            dispatcher.utter_message(response="utter_no_cards")
            return []
        dispatcher.utter_message(response="utter_cards_intro")
        for card in cards:
            dispatcher.utter_message(
                response="utter_card_line",
                brand=card.brand.title(),
                last4=card.last4,
                status=_STATUS_TEXT.get(card.status, card.status),
                expiry=_expiry(card),
            )
        return []


def _expiry(card: Card) -> str:
    if card.expiry_month and card.expiry_year:
        return f"{card.expiry_month:02d}/{str(card.expiry_year)[-2:]}"
    return "—"


class _ChangeCardStatus:
    """Freeze or unfreeze one card, asking which one when that is not clear.

    A mixin, not an `Action`: rasa-sdk registers every `Action` subclass by its name."""

    action: Literal["freeze", "unfreeze"]  # core_banking's verb
    from_status: str  # the status this change applies to
    done_response: str
    intent: str

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        found = await _cards_or_explain(dispatcher, tracker)
        if found is None:
            return []
        customer, cards = found
        wanted = tracker.get_slot("card_last4")
        if said_card_not_found(dispatcher, wanted, cards):
            return [SlotSet("card_last4", None)]  # never another card than the one named
        if wanted:
            cards = [c for c in cards if c.last4 == str(wanted)]
        if not cards:
            dispatcher.utter_message(response="utter_no_cards")
            return [SlotSet("card_last4", None)]
        candidates = [c for c in cards if c.status == self.from_status]
        if len(candidates) > 1:
            buttons = [
                {
                    "title": f"•••• {c.last4}",
                    "payload": f'/{self.intent}{{"card_last4": "{c.last4}"}}',
                }
                for c in candidates
            ]
            dispatcher.utter_message(response="utter_which_card", buttons=buttons)
            return []
        if not candidates:
            card = cards[0]
            status = _STATUS_TEXT.get(card.status, card.status)
            response = (
                "utter_card_already"
                if card.status in ("active", "frozen")
                else "utter_card_cannot_change"
            )
            dispatcher.utter_message(response=response, last4=card.last4, status=status)
            return [SlotSet("card_last4", None)]
        card = candidates[0]
        try:
            await core_banking_api.change_card(customer.access_token, card.id, self.action)
        except core_banking_api.CoreBankingError as error:
            core_banking_api.say_failure(dispatcher, error)
            return []
        dispatcher.utter_message(response=self.done_response, last4=card.last4)
        return [SlotSet("card_last4", None)]


class ActionFreezeCard(_ChangeCardStatus, Action):
    action, from_status, done_response, intent = (
        "freeze",
        "active",
        "utter_card_frozen",
        "freeze_card",
    )

    def name(self) -> str:
        return "action_freeze_card"


class ActionUnfreezeCard(_ChangeCardStatus, Action):
    action, from_status, done_response, intent = (
        "unfreeze",
        "frozen",
        "utter_card_unfrozen",
        "unfreeze_card",
    )

    def name(self) -> str:
        return "action_unfreeze_card"
