"""Writes bot/data/digressions.yml: inside any form, a support question or a balance
question is answered and the form then asks its question again; a new task abandons
the form and starts the new one. Also bot/data/offers.yml: a support answer that offers
a task with a button ("I can freeze your card right now if you like") takes a typed
"yes" as pressing that button. Rasa rules have no wildcards, hence a generator.

    python scripts/generate_digressions.py     # after changing forms or support topics
"""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
FORMS = [
    "transfer_form",
    "otp_form",
    "add_payee_form",
    "remove_payee_form",
    "buy_gift_card_form",
    "check_gift_card_balance_form",
    "redeem_gift_card_form",
]
ANSWERS = {
    "check_balance": "action_check_balance",
    "bot_challenge": "utter_iamabot",
    "help": "utter_help",
    "search_transactions": "action_search_transactions",
    "shared_sensitive_data": "utter_never_share_cvv",
    "card_security_code": "utter_card_security_code",
    "log_in": "utter_how_to_log_in",
    "wait": "utter_take_your_time",
    "regulated_advice": "utter_regulated_advice",
    "list_payees": "action_list_payees",
    "thank": "utter_youre_welcome_in_task",
}
SWITCHES = {
    "list_cards": "action_list_cards",
    "freeze_card": "action_freeze_card",
    "unfreeze_card": "action_unfreeze_card",
    "human_handoff": "action_request_handoff",
    "report_lost_card": "action_ask_report_lost",
    "goodbye": "utter_goodbye",
}
# Tasks with a form of their own: said inside another form, that form ends and this one
# starts (actions/payees.py TASK_FORMS makes the form validators let these through).
FORM_STARTS = {
    "transfer_money": "transfer_form",
    "add_payee": "add_payee_form",
    "remove_payee": "remove_payee_form",
    "buy_gift_card": "buy_gift_card_form",
    "check_gift_card_balance": "check_gift_card_balance_form",
    "redeem_gift_card": "redeem_gift_card_form",
}
OFFERED = {**ANSWERS, **SWITCHES}


def support_topics() -> list[str]:
    domain = yaml.safe_load((ROOT / "bot" / "domain" / "support.yml").read_text())
    return list(domain["intents"])


def rules() -> list[dict[str, object]]:
    answers = {**ANSWERS, **{t: f"utter_{t}" for t in support_topics()}}
    out: list[dict[str, object]] = []
    for form in FORMS:
        for intent, action in answers.items():
            out.append(
                {
                    "rule": f"{intent} during {form}",
                    "condition": [{"active_loop": form}],
                    "steps": [
                        {"intent": intent},
                        {"action": action},
                        {"action": form},
                        {"active_loop": form},
                    ],
                }
            )
        for intent, action in SWITCHES.items():
            out.append(
                {
                    "rule": f"{intent} abandons {form}",
                    "condition": [{"active_loop": form}],
                    "steps": [
                        {"intent": intent},
                        {"action": "action_deactivate_loop"},
                        {"active_loop": None},
                        {"action": "action_reset_task_slots"},
                        {"action": action},
                    ],
                }
            )
        for intent, other in FORM_STARTS.items():
            if other == form:
                continue  # its own task's words are an answer ("send 50 to savings")
            out.append(
                {
                    "rule": f"{intent} abandons {form}",
                    "condition": [{"active_loop": form}],
                    "steps": [
                        {"intent": intent},
                        {"action": "action_deactivate_loop"},
                        {"active_loop": None},
                        {"action": "action_reset_task_slots"},
                        {"action": other},
                        {"active_loop": other},
                    ],
                }
            )
    return out


def offer_rules() -> list[dict[str, object]]:
    """A typed yes after a support answer runs the answer's first offered task."""
    domain = yaml.safe_load((ROOT / "bot" / "domain" / "support.yml").read_text())
    out: list[dict[str, object]] = []
    for topic in support_topics():
        # The intent of each payload ('/search_transactions{"direction": "in"}' too).
        payloads = [
            b["payload"].lstrip("/").split("{")[0]
            for v in domain["responses"][f"utter_{topic}"]
            for b in v.get("buttons", [])
        ]
        offered = [p for p in payloads if p in OFFERED]
        if offered:
            out.append(
                {
                    "rule": f"yes to the offer after {topic}",
                    "condition": [{"active_loop": None}],
                    "steps": [
                        {"action": f"utter_{topic}"},
                        {"intent": "affirm"},
                        {"action": OFFERED[offered[0]]},
                    ],
                }
            )
    return out


if __name__ == "__main__":
    header = "# Generated by scripts/generate_digressions.py; do not edit by hand.\n"
    for name, generated in (("digressions.yml", rules()), ("offers.yml", offer_rules())):
        body = yaml.safe_dump({"version": "3.1", "rules": generated}, sort_keys=False, width=100)
        (ROOT / "bot" / "data" / name).write_text(header + body)
