"""What every task form shares: a form only a logged-in customer fills."""

from abc import abstractmethod

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.customer import customer_from_tracker


class CustomerTaskForm(FormValidationAction):
    """For a guest the form asks nothing: its submit action tells them to log in, so a
    guest is never walked through questions that end in "please log in first"."""

    @abstractmethod
    def name(self) -> str: ...

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if customer_from_tracker(tracker) is None:
            return []
        return domain_slots
