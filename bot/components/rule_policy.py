"""RulePolicy whose rule lookup checks only the rules that can match the current state.

Rasa 3.6's RulePolicy finds the applicable rules by filtering *all* rule keys (JSON
strings) once for every state of the conversation so far, decoding each key through
`functools.lru_cache(maxsize=1000)` on every check. This bot had ~2,300 rule keys (most
from generated digression rules, since replaced by bot/components/task_policy.py): the cache evicted
in a cycle, every prediction decoded thousands of JSON strings, and a 20-turn
conversation meant 20 passes over all keys. py-spy put ~84 % of the Rasa server's time
there, about half of a turn's latency.

Here each key is decoded once (cached without bound: the keys are the trained lookup's,
nothing a user sends); the keys are indexed by the previous action and intent their
newest state requires, so only rules that can match the current state are checked; and
each of those is checked only against as many past states as it has (a state beyond a
rule's length always passes in the parent too). The result is the same set of keys:
tests/bot/test_rule_policy.py compares it with the parent's on the bot's rules, for the
states of real conversations. Measured with `make run` up: a guest FAQ turn through
Rasa's REST channel went from 53 to 15 ms median (README, "Performance").
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from rasa.core.policies.rule_policy import RulePolicy
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.core.constants import PREVIOUS_ACTION, SHOULD_NOT_BE_SET, USER
from rasa.shared.nlu.constants import ACTION_NAME, INTENT

State = dict[str, Any]
Bucket = tuple[str | None, str | None]  # (previous action, user intent); None: any

# The parent's decoder (lru_cache keeps it as __wrapped__), cached without bound: every
# key is decoded once, for the parent's code paths and for the lookup below alike.
decoded_rule_states = functools.cache(RulePolicy._rule_key_to_state.__wrapped__)


@functools.cache
def rule_states_newest_first(rule_key: str) -> tuple[State, ...]:
    return tuple(reversed(decoded_rule_states(rule_key)))


def bucket_of(rule_state: State) -> Bucket:
    """The previous action and intent a rule state requires (None where it requires none
    or only that something is unset); a conversation-start rule state requires nothing."""
    if not rule_state.get(PREVIOUS_ACTION):
        return (None, None)

    def required(value: Any) -> str | None:
        return value if isinstance(value, str) and value and value != SHOULD_NOT_BE_SET else None

    return (
        required(rule_state[PREVIOUS_ACTION].get(ACTION_NAME)),
        required(rule_state.get(USER, {}).get(INTENT)),
    )


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True
)
class CachedRulePolicy(RulePolicy):
    """A drop-in RulePolicy: same configuration keys, training and predictions.

    Rasa warns at training that "'RulePolicy' is not included" because its check compares
    classes with `==`; the default rules (restart, back, session start) are the parent's
    and work unchanged."""

    _rule_key_to_state = staticmethod(decoded_rule_states)

    def _get_possible_keys(self, lookup: Mapping[str, str], states: Sequence[State]) -> set[str]:
        newest_first = list(reversed(states))
        return {
            key
            for key in self._candidates(lookup, newest_first[0] if newest_first else None)
            if self._matches(rule_states_newest_first(key), newest_first)
        }

    def _candidates(self, lookup: Mapping[str, str], newest: State | None) -> list[str]:
        """The keys whose newest state can match `newest`: only rules that name this
        previous action (or none) and this intent (or none). A conversation-start state
        matches rules regardless of their features, so it gets every key."""
        if newest is None or not newest.get(PREVIOUS_ACTION):
            return list(lookup)
        index = self._index(lookup)
        action = newest[PREVIOUS_ACTION].get(ACTION_NAME)
        intent = newest.get(USER, {}).get(INTENT)
        buckets = {(a, i) for a in (action, None) for i in (intent, None)}
        return [key for bucket in buckets for key in index.get(bucket, ())]

    def _index(self, lookup: Mapping[str, str]) -> dict[Bucket, list[str]]:
        # Built once per trained lookup (they do not change after training or loading).
        indexes: dict[int, tuple[Mapping[str, str], dict[Bucket, list[str]]]]
        indexes = self.__dict__.setdefault("_bucket_indexes", {})
        cached = indexes.get(id(lookup))
        if cached is not None and cached[0] is lookup:
            return cached[1]
        index: dict[Bucket, list[str]] = {}
        for key in lookup:
            states = rule_states_newest_first(key)
            index.setdefault(bucket_of(states[0]) if states else (None, None), []).append(key)
        indexes[id(lookup)] = (lookup, index)
        return index

    def _matches(self, rule_states: tuple[State, ...], newest_first: list[State]) -> bool:
        """The parent's `_is_rule_applicable` for every turn the rule covers."""
        for rule_state, state in zip(rule_states, newest_first, strict=False):
            rule_previous_action = rule_state.get(PREVIOUS_ACTION)
            current_previous_action = state.get(PREVIOUS_ACTION)
            if not rule_previous_action and not current_previous_action:
                continue  # both are conversation starts
            if not rule_previous_action or not current_previous_action:
                return False
            if not self._does_rule_match_state(rule_state, state):
                return False
        return True
