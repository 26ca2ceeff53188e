"""TaskPolicy: the form mechanics of bot/tasks.yml for every form, on real Rasa trackers.

Each conversation below is a list of Rasa events as the processor records them (a form
that refuses a message leaves `ActionExecutionRejected`, not `ActionExecuted`); the
policy must name the next action the way the generated rules it replaced did."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActiveLoop,
    Event,
    LoopInterrupted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.components.task_policy import TaskPolicy, load_registry

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = ROOT / "bot" / "tasks.yml"


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "bot" / "domain"))


@pytest.fixture(scope="module")
def policy(domain: Domain, tmp_path_factory: pytest.TempPathFactory) -> TaskPolicy:
    storage = LocalModelStorage(tmp_path_factory.mktemp("storage"))
    resource = Resource("task_policy")
    context = ExecutionContext(GraphSchema({}), "test")
    config = {**TaskPolicy.get_default_config(), "registry": str(REGISTRY)}
    trained = TaskPolicy.create(config, storage, resource, context)
    # Rasa trains policies on a domain without response texts or buttons: the offers
    # must come from the registry's files, not from this argument.
    trained.train([], Domain.empty())
    # What a served model does: load the registry stored at training, not the file.
    return TaskPolicy.load(config, storage, resource, context)


def user(intent: str) -> UserUttered:
    return UserUttered(intent, {"name": intent, "confidence": 0.99})


def listen() -> ActionExecuted:
    return ActionExecuted("action_listen")


def run(action: str) -> ActionExecuted:
    return ActionExecuted(action)


def in_form(form: str) -> list[Event]:
    """A form asking its question and waiting for the answer."""
    return [listen(), user("transfer_money"), run(form), ActiveLoop(form), listen()]


def predicted(policy: TaskPolicy, domain: Domain, events: list[Event]) -> tuple[str | None, Any]:
    tracker = DialogueStateTracker.from_events("customer", events, domain.slots)
    prediction = policy.predict_action_probabilities(tracker, domain)
    if prediction.max_confidence < 1.0:
        return None, prediction.events
    return domain.action_names_or_texts[prediction.max_confidence_index], prediction.events


def test_a_task_intent_forgets_the_old_task_then_opens_its_form(
    policy: TaskPolicy, domain: Domain
) -> None:
    start = [listen(), user("add_payee")]
    assert predicted(policy, domain, start)[0] == "action_reset_task_slots"
    assert predicted(policy, domain, [*start, run("action_reset_task_slots")])[0] == (
        "add_payee_form"
    )


def test_a_completed_form_runs_its_submit_action_then_listens(
    policy: TaskPolicy, domain: Domain
) -> None:
    done = [*in_form("add_payee_form"), user("inform"), run("add_payee_form"), ActiveLoop(None)]
    assert predicted(policy, domain, done)[0] == "action_add_payee"
    assert predicted(policy, domain, [*done, run("action_add_payee")])[0] == "action_listen"


def test_a_form_that_has_not_judged_the_message_is_left_to_run(
    policy: TaskPolicy, domain: Domain
) -> None:
    assert predicted(policy, domain, [*in_form("transfer_form"), user("check_balance")])[0] is None


def test_a_refused_question_is_answered_and_the_form_asks_again(
    policy: TaskPolicy, domain: Domain
) -> None:
    refused = [
        *in_form("transfer_form"),
        user("check_balance"),
        ActionExecutionRejected("transfer_form"),
    ]
    assert predicted(policy, domain, refused)[0] == "action_check_balance"
    action, events = predicted(policy, domain, [*refused, run("action_check_balance")])
    assert action == "transfer_form"
    assert events == [LoopInterrupted(True)]  # the form does not judge the question again


def test_every_support_topic_is_answered_inside_every_form(
    policy: TaskPolicy, domain: Domain
) -> None:
    topics = yaml.safe_load((ROOT / "bot" / "domain" / "support.yml").read_text())["intents"]
    registry = yaml.safe_load(REGISTRY.read_text())
    for form in registry["forms"]:
        for topic in topics[:3]:
            events = [*in_form(form), user(topic), ActionExecutionRejected(form)]
            assert predicted(policy, domain, events)[0] == f"utter_{topic}", (form, topic)


def test_cancel_closes_the_form_and_runs_its_cancel_action(
    policy: TaskPolicy, domain: Domain
) -> None:
    refused = [*in_form("buy_gift_card_form"), user("cancel")]
    refused.append(ActionExecutionRejected("buy_gift_card_form"))
    assert predicted(policy, domain, refused)[0] == "action_deactivate_loop"
    closed = [*refused, run("action_deactivate_loop"), ActiveLoop(None)]
    assert predicted(policy, domain, closed)[0] == "action_cancel_buy_gift_card_form"
    cancelled = [*closed, run("action_cancel_buy_gift_card_form")]
    assert predicted(policy, domain, cancelled)[0] == "action_listen"


def test_no_at_the_one_time_code_cancels_but_not_elsewhere(
    policy: TaskPolicy, domain: Domain
) -> None:
    at_code = [*in_form("otp_form"), user("deny"), ActionExecutionRejected("otp_form")]
    assert predicted(policy, domain, at_code)[0] == "action_deactivate_loop"
    closed = [*at_code, run("action_deactivate_loop"), ActiveLoop(None)]
    assert predicted(policy, domain, closed)[0] == "action_cancel_transfer_task"
    elsewhere = [*in_form("add_payee_form"), user("deny")]
    elsewhere.append(ActionExecutionRejected("add_payee_form"))
    assert predicted(policy, domain, elsewhere)[0] is None


def test_another_task_ends_the_form_and_starts_that_task(
    policy: TaskPolicy, domain: Domain
) -> None:
    refused = [
        *in_form("check_gift_card_balance_form"),
        user("transfer_money"),
        ActionExecutionRejected("check_gift_card_balance_form"),
    ]
    steps = ["action_deactivate_loop", "action_reset_task_slots", "transfer_form"]
    events = list(refused)
    for step in steps:
        assert predicted(policy, domain, events)[0] == step
        events += [run(step), ActiveLoop(None)] if step == steps[0] else [run(step)]


def test_a_one_step_task_ends_the_form_runs_and_listens(policy: TaskPolicy, domain: Domain) -> None:
    events = [*in_form("transfer_form"), user("freeze_card")]
    events.append(ActionExecutionRejected("transfer_form"))
    for step in [
        "action_deactivate_loop",
        "action_reset_task_slots",
        "action_freeze_card",
        "action_listen",
    ]:
        assert predicted(policy, domain, events)[0] == step
        events.append(run(step))


def test_a_typed_yes_takes_up_a_support_answers_offer(policy: TaskPolicy, domain: Domain) -> None:
    offer = [listen(), user("lost_or_stolen_card"), run("utter_lost_or_stolen_card"), listen()]
    yes = [*offer, user("affirm")]
    action = predicted(policy, domain, yes)[0]
    assert action is not None and action.startswith("action_")
    assert predicted(policy, domain, [*yes, run(action)])[0] == "action_listen"
    # A yes to anything else is not an offer taken up.
    assert (
        predicted(
            policy, domain, [listen(), user("greet"), run("utter_greet"), listen(), user("affirm")]
        )[0]
        is None
    )


def sent_a_transfer() -> list[Event]:
    """A transfer confirmed at its summary and sent, then another question answered."""
    return [
        *in_form("transfer_form"),
        user("affirm"),
        run("transfer_form"),
        ActiveLoop(None),
        run("action_execute_transfer"),
        listen(),
        user("check_balance"),
        run("action_check_balance"),
        listen(),
    ]


def test_do_the_same_again_repeats_the_task_done_last(policy: TaskPolicy, domain: Domain) -> None:
    again = [*sent_a_transfer(), user("repeat_last_task")]
    assert predicted(policy, domain, again)[0] == "action_repeat_transfer"
    # The repeat action opens the form itself; when it could not, the bot listens.
    assert predicted(policy, domain, [*again, run("action_repeat_transfer")])[0] == "action_listen"
    opened = [
        *again,
        run("action_repeat_transfer"),
        run("transfer_form"),
        ActiveLoop("transfer_form"),
    ]
    assert predicted(policy, domain, opened)[0] is None  # the form's question is Rasa's


def test_a_task_with_nothing_to_repeat_says_so(policy: TaskPolicy, domain: Domain) -> None:
    nothing_yet = [listen(), user("repeat_last_task")]
    assert predicted(policy, domain, nothing_yet)[0] == "utter_nothing_to_repeat"
    added = [*in_form("add_payee_form"), user("affirm"), run("add_payee_form"), ActiveLoop(None)]
    added += [run("action_add_payee"), listen(), user("repeat_last_task")]
    assert predicted(policy, domain, added)[0] == "utter_nothing_to_repeat"  # not a payee again
    # After a transfer then a payee, the payee was the last task done: not the transfer.
    both = [*sent_a_transfer(), *added[1:]]
    assert predicted(policy, domain, both)[0] == "utter_nothing_to_repeat"
    said = [*nothing_yet, run("utter_nothing_to_repeat")]
    assert predicted(policy, domain, said)[0] == "action_listen"


def test_the_registry_names_only_what_the_domain_has(domain: Domain) -> None:
    registry = load_registry(REGISTRY)
    actions = set(domain.action_names_or_texts)
    assert set(registry["forms"]) == set(domain.form_names)
    for spec in registry["forms"].values():
        assert {spec["submit"], spec["cancel"]} <= actions
        assert spec["start"] is None or spec["start"] in domain.intents
        assert spec["repeat"] is None or spec["repeat"] in actions
    assert registry["repeat"]["intent"] in domain.intents
    assert registry["repeat"]["nothing"] in actions
    for intent, action in {**registry["switches"], **registry["answers"]}.items():
        assert intent in domain.intents and action in actions, (intent, action)
    assert set(registry["offers"].values()) <= actions
    assert registry["offers"], "support answers offer tasks (bot/domain/support.yml)"


def test_the_training_cache_sees_a_changed_registry(tmp_path: Path) -> None:
    """Rasa reuses a cached policy unless its fingerprint changes: the registry file is
    no graph input, so its content must be part of the fingerprint."""
    registry = tmp_path / "bot" / "tasks.yml"
    registry.parent.mkdir()
    (tmp_path / "bot" / "domain").mkdir()
    (tmp_path / "bot" / "domain" / "support.yml").write_text(
        (ROOT / "bot" / "domain" / "support.yml").read_text()
    )
    text = REGISTRY.read_text()
    registry.write_text(text)
    before = TaskPolicy.fingerprint_addon({"registry": str(registry)})
    registry.write_text(text.replace("goodbye: utter_goodbye", "goodbye: utter_greet"))
    assert TaskPolicy.fingerprint_addon({"registry": str(registry)}) != before


def test_a_policy_restored_from_the_training_cache_has_no_addon() -> None:
    """Rasa's training hook asks again with the config of the node that replaced a
    cached policy (no registry): a retraining of the NLU data alone must not fail."""
    assert TaskPolicy.fingerprint_addon({"output": object()}) is None
