"""Sensitive-data guard: when the gateway had to mask a card number (`[card •••• 1234]`)
or a CVV (`[redacted]`) in what the customer typed, the message is about that, whatever
else it says: the intent becomes `shared_sensitive_data` so the bot's answer is the
warning never to share them (bot/domain/core.yml, utter_never_share_cvv)."""

from __future__ import annotations

import re
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.message import Message

INTENT = "shared_sensitive_data"
# The gateway's masked forms (gateway/chat/pii.py).
MASKED = re.compile(r"\[card •+ ?\d{4}\]|\[redacted\]")


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class SensitiveDataGuard(GraphComponent):
    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SensitiveDataGuard:
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            if MASKED.search(message.get("text") or ""):
                ranking = [r for r in message.get("intent_ranking") or [] if r["name"] != INTENT]
                intent = {"name": INTENT, "confidence": 1.0}
                message.set("intent", intent, add_to_output=True)
                message.set("intent_ranking", [intent, *ranking], add_to_output=True)
        return messages
