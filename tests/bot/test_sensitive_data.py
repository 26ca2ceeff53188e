"""SensitiveDataGuard: a masked card number or CVV always gets the warning intent."""

from rasa.shared.nlu.training_data.message import Message

from bot.components.sensitive_data import INTENT, SensitiveDataGuard


def parsed(text: str) -> Message:
    message = Message(data={"text": text})
    message.set("intent", {"name": "transfer_money", "confidence": 0.9})
    message.set("intent_ranking", [{"name": "transfer_money", "confidence": 0.9}])
    guard = SensitiveDataGuard.create({}, None, None, None)
    return guard.process([message])[0]


def test_masked_card_or_cvv_sets_the_warning_intent() -> None:
    for text in ("pay with [card •••• 1111]", "[redacted]", "cvv [redacted] ok"):
        message = parsed(text)
        assert message.get("intent") == {"name": INTENT, "confidence": 1.0}
        assert [r["name"] for r in message.get("intent_ranking")] == [INTENT, "transfer_money"]


def test_other_text_is_left_alone() -> None:
    for text in ("send 50 to Anna", "my card ending 1111 is lost", "[giftcard:gc_ab12]"):
        assert parsed(text).get("intent")["name"] == "transfer_money"
