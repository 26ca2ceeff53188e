"""CachedRulePolicy finds exactly the rules Rasa's RulePolicy finds.

The policy is trained here on the bot's real rules and domain (bot/data, bot/domain;
about a second, since the contradiction check is off), and both lookups are run on the
states of every prefix of the test conversations (tests/stories) and of a sample of the
rules' own conversations, for the plain rules and for the forms' unhappy-path rules."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from rasa.core.policies.rule_policy import RULES, RULES_FOR_LOOP_UNHAPPY_PATH, RulePolicy
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.generator import TrainingDataGenerator
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.importers.importer import TrainingDataImporter

from bot.components.rule_policy import CachedRulePolicy

ROOT = Path(__file__).resolve().parents[2]
BOT = ROOT / "bot"


def trackers(domain_path: Path, paths: list[Path], domain: Domain) -> list[Any]:
    importer = TrainingDataImporter.load_from_dict(
        domain_path=str(domain_path), training_data_paths=[str(p) for p in paths]
    )
    graph = importer.get_stories()
    return TrainingDataGenerator(graph, domain, augmentation_factor=0).generate()


@pytest.fixture(scope="module")
def trained(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[CachedRulePolicy, Domain, list[Any]]:
    importer = TrainingDataImporter.load_from_dict(
        domain_path=str(BOT / "domain"),
        training_data_paths=[str(BOT / "data")],
        config_path=str(BOT / "config.yml"),
    )
    domain = importer.get_domain()
    rule_trackers = trackers(BOT / "domain", [BOT / "data"], domain)
    config = {**CachedRulePolicy.get_default_config(), "check_for_contradictions": False}
    policy = CachedRulePolicy.create(
        config,
        LocalModelStorage(tmp_path_factory.mktemp("storage")),
        Resource("rule_policy"),
        ExecutionContext(GraphSchema({}), "test"),
    )
    policy.train(rule_trackers, domain)
    return policy, domain, rule_trackers


def prefix_states(domain: Domain, conversations: list[Any]) -> list[list[dict[str, Any]]]:
    """States of every prefix of every conversation (de-duplicated)."""
    seen: dict[str, list[dict[str, Any]]] = {}
    for tracker in conversations:
        assert isinstance(tracker, DialogueStateTracker)
        states = tracker.past_states(domain)
        for end in range(1, len(states) + 1):
            seen.setdefault(repr(states[:end]), states[:end])
    return list(seen.values())


def test_the_lookup_is_the_parents_on_real_conversations(
    trained: tuple[CachedRulePolicy, Domain, list[Any]],
) -> None:
    policy, domain, rule_trackers = trained
    # Over 1,000 keys made the parent's cache thrash; since the form mechanics moved to
    # the task policy (bot/components/task_policy.py) there are ~200, still compared.
    assert len(policy.lookup[RULES]) > 100
    conversations = trackers(BOT / "domain", [ROOT / "tests" / "stories"], domain)
    prefixes = prefix_states(domain, conversations)
    assert len(prefixes) > 50
    # And the rules' own conversations (a fixed sample: the parent's lookup is slow).
    prefixes += random.Random(7).sample(prefix_states(domain, rule_trackers), 150)
    matched = 0
    for states in prefixes:
        for table in (RULES, RULES_FOR_LOOP_UNHAPPY_PATH):
            lookup = policy.lookup[table]
            ours = policy._get_possible_keys(lookup, states)
            assert ours == RulePolicy._get_possible_keys(policy, lookup, states)
            matched += bool(ours)
    assert matched > len(prefixes) / 2  # the comparison is not between empty sets


def test_decoded_rule_states_are_the_parents(
    trained: tuple[CachedRulePolicy, Domain, list[Any]],
) -> None:
    policy, _, _ = trained
    for key in policy.lookup[RULES]:
        assert policy._rule_key_to_state(key) == RulePolicy._rule_key_to_state(key)
