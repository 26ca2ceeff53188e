"""Rasa wrapper around `entity_rules`: adds the rule-based entities to each message."""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.training_data.message import Message

from bot.components.entity_rules import extract


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class BankingEntityExtractor(GraphComponent, EntityExtractorMixin):
    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> BankingEntityExtractor:
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get("text")
            if not text:
                continue
            # How the customer writes numbers ("1.100"), when the channel says.
            metadata = message.get("metadata") or {}
            locale = metadata.get("locale") if isinstance(metadata, dict) else None
            entities = [
                {
                    "entity": found.entity,
                    "value": found.value,
                    "start": found.start,
                    "end": found.end,
                    "confidence_entity": 1.0,
                    "extractor": self.name,
                    **({"role": found.role} if found.role else {}),
                }
                for found in extract(text, locale=locale if isinstance(locale, str) else None)
            ]
            message.set("entities", message.get("entities", []) + entities, add_to_output=True)
        return messages
