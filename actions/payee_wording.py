"""Payees' IBANs and names as customers type them: an IBAN's check digits, the name in
"add John Smith with IBAN …", a name typed after the IBAN or as the answer, a corrected
name ("no, his last name is Weber", "with two b"), and a relation said without a name
("my mom"). Shared by the payee, transfer and gift-card forms."""

import re
import unicodedata

from rasa_sdk import Tracker

from actions.entities import entities, entity_value
from actions.forms import (
    intent_of,
    is_yes_or_no,
    latest_text,
    says_a_change,
)


def iban_is_valid(candidate: str) -> bool:
    iban = re.sub(r"\s+", "", candidate).upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", iban):
        return False
    digits = "".join(str(int(ch, 36)) for ch in iban[4:] + iban[:4])
    return int(digits) % 97 == 1


def _without_ibans(tracker: Tracker, text: str) -> tuple[str, str]:
    """(text before the first IBAN, text after it); the whole text and "" if none."""
    spans = [
        (int(e["start"]), int(e["end"]))
        for e in entities(tracker, "iban")
        if isinstance(e.get("start"), int) and isinstance(e.get("end"), int)
    ]
    if not spans:
        m = re.search(r"\b[A-Za-z]{2}\d{2}(?:\s?[A-Za-z0-9]){11,30}\b", text)
        if m is None or not iban_is_valid(m.group(0)):
            return text, ""
        spans = [(m.start(), m.end())]
    start, end = min(spans)
    return text[:start], text[end:]


_LEAD = re.compile(
    r"^\s*(?:please\s+|pls\s+|can you\s+|could you\s+)?"
    r"(?:(?:add|save|create|register|set up|store|put)\s+(?:a\s+|another\s+|one more\s+)?"
    r"(?:new\s+)?"
    r"(?:payee|recipient|beneficiary)?|new\s+(?:payee|recipient|beneficiary))\s*:?\s*",
    re.IGNORECASE,
)
_CALLED = re.compile(r"\b(?:called|named|name is|name's)\s+(?P<name>.+)$", re.IGNORECASE)
_CUT = re.compile(
    r"(?:'s?\s+(?:account|bank|iban|details)\b|\s+with\b|\s+as\b|\s+to my\b|\s+on my\b|"
    r"\s+so\b|\s+for\b|,|;|\s+iban\b|\s+account\b|\s+her\b|\s+his\b|\s+their\b)",
    re.IGNORECASE,
)
_ANSWER_LEAD = re.compile(
    r"^\s*(?:it'?s\s+|it is\s+|the name is\s+|name\s*:\s*|call (?:it|them|him|her)\s+|"
    r"called\s+|they'?re\s+|he'?s\s+|she'?s\s+|that'?s\s+)",
    re.IGNORECASE,
)
_NOT_A_NAME = {
    "a",
    "an",
    "new",
    "another",  # "add another payee" names nobody
    "other",
    "one",
    "more",
    "payee",
    "payees",
    "recipient",
    "beneficiary",
    "someone",
    "somebody",
    "this",
    "that",
    "it",
    "iban",
    "my",
    "the",
    "pls",
    "please",
    "me",  # "save a new recipient for me" names nobody
    "myself",
    "you",
    "us",
    "him",
    "her",
    "them",
}


def tidy_name(text: str) -> str | None:
    name = re.sub(r"\s+", " ", text).strip(" \t:,.;!?\"'")
    name = re.sub(r"\s+(?:please|pls|thanks|thank you)$", "", name, flags=re.IGNORECASE)
    name = re.sub(r"^(?:for|to)\s+", "", name, flags=re.IGNORECASE)  # "… recipient for me"
    if not name or not re.search(r"[^\W\d_]", name) or len(name) > 70:
        return None
    if name.lower() in _NOT_A_NAME or name.split()[0].lower() in _NOT_A_NAME - {"my", "the"}:
        return None
    return name.title() if name.isupper() and len(name) > 3 else name


_NOT_IN_NAMES = frozenset(
    {
        "i",
        "i'm",
        "im",
        "me",
        "my",
        "you",
        "your",
        "we",
        "it",
        "it's",
        "is",
        "are",
        "was",
        "what",
        "where",
        "how",
        "why",
        "when",
        "which",
        "who",
        "don't",
        "dont",
        "not",
        "know",
        "have",
        "has",
        "find",
        "can",
        "can't",
        "cannot",
        "do",
        "does",
        "wait",
        "sorry",
        "help",
        "later",
        "cancel",
        "stop",
        "iban",
        "number",
        "account",
        "bank",
        "code",
        "send",
        "transfer",
        "money",
        "the",
        "this",
        "that",
    }
)


def name_instead_of_iban(text: str) -> bool:
    """Asked for the IBAN, the customer gave the name ("John Smith"): letters only, a
    few words, no digit (every IBAN has check digits)."""
    words = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", text.lower())
    return (
        0 < len(words) <= 4
        and not re.search(r"\d", text)
        and not is_yes_or_no(text)
        and not _NOT_IN_NAMES.intersection(words)
        and tidy_name(text) is not None
    )


def person_named(tracker: Tracker) -> tuple[bool, str | None]:
    """(a relation was said, the name said with it): the NLU's person ("my brother, Tom
    Becker" -> (True, "Tom Becker")); "my brother" alone is no name: (True, None)."""
    person = entity_value(tracker, "person")
    if person:
        return True, tidy_name(str(person))
    return bool(entity_value(tracker, "relation")), None


# "add payee GB82 WEST … Sarah Jones": capitalised words after the IBAN name the payee
# ("… as a payee" or "… to my payees" do not).
_NAME_AFTER_IBAN = re.compile(r"^\s*[A-Z][^\W\d_]*(?:[\s'-]+[A-Z][^\W\d_]*){0,3}\s*[.!]?\s*$")


def name_from_request(tracker: Tracker) -> str | None:
    """A payee name given along with the request or the IBAN, if there is one."""
    relation, person = person_named(tracker)
    if relation:
        return person
    text = latest_text(tracker)
    before, after = _without_ibans(tracker, text)
    called = _CALLED.search(before + " " + after)
    if called:
        return tidy_name(_CUT.split(called.group("name"), maxsplit=1)[0])
    if after.strip() and (
        intent_of(tracker) != "add_payee" or _NAME_AFTER_IBAN.match(_ANSWER_LEAD.sub("", after))
    ):
        return tidy_name(_ANSWER_LEAD.sub("", after))  # "[add payee] DE89 3704 … John Smith"
    if (
        before.strip()
        and intent_of(tracker) != "add_payee"
        and name_instead_of_iban(_ANSWER_LEAD.sub("", before))
    ):
        return tidy_name(_ANSWER_LEAD.sub("", before))  # "John Smith DE89 3704 …"
    lead = _LEAD.match(before)
    if intent_of(tracker) != "add_payee" or lead is None:
        return None
    return tidy_name(_CUT.split(before[lead.end() :], maxsplit=1)[0])


def name_from_answer(tracker: Tracker) -> str | None:
    relation, person = person_named(tracker)
    if relation:
        return person
    before, after = _without_ibans(tracker, latest_text(tracker))
    text = f"{before} {after}"
    called = _CALLED.search(text)
    if called:
        return tidy_name(called.group("name"))
    return tidy_name(_ANSWER_LEAD.sub("", text.strip()))


# A new name said at the summary: "sorry, the name is Maria García López", "actually it's
# Maria Lopez", "I meant Maria Lopez not Maria Garcia", "change the name to Maria Lopez".
# The words that say it is a change go; the name said after "not" is the old one.
_CHANGE_LEAD = re.compile(
    r"^\s*(?:(?:no|nope|sorry|oops|whoops|actually|wait|hmm+|ah|oh|ok|okay|yes|yeah|but|"
    r"my (?:mistake|bad)|call (?:it|them|him|her)|save (?:it|them|him|her) as|"
    r"wrong name|typo|i mean|i meant|i mean to say|make (?:it|that)|correction|"
    r"(?:change|rename) (?:it|that|them|him|her|the name) to|"
    r"(?:it|that|the name|their name|his name|her name) should (?:be|read|say)|should be|"
    r"(?:it'?s |its |it is )?spel(?:led|t)(?: like)?)\b[\s,.:;!-]*)+",
    re.IGNORECASE,
)
_OLD_NAME_FIRST = re.compile(r"^\s*(?:not|instead of)\s+[^,;]+[,;]\s*", re.IGNORECASE)
_OLD_NAME_AFTER = re.compile(
    r"(?:[,;]\s*|\s+)(?:not|instead of|rather than)\b.*$|\s+instead\W*$", re.IGNORECASE
)
# Words of a sentence, not of a name ("no, it's wrong", "sorry, what?").
_NOT_NAME_WORDS = _NOT_IN_NAMES | {"wrong", "right", "fine", "correct", "sure", "good", "add"}


def corrected_name(tracker: Tracker, current: str | None) -> str | None:
    """The name a message at the summary puts in place of `current`, if it names one.

    The last part of the message that names someone counts ("the name is wrong, it
    should be Maria López"; "Maria López, not Maria Garcia"). Said with the word "name"
    (or "called", "spelled") any name counts; otherwise it shares a word with the
    current one ("Maria García López" for "Maria Garcia") or is said as a change and
    capitalised ("sorry, Anna Weber"), so that "Perfect" or "no, it's wrong" never
    becomes a payee's name."""
    text = latest_text(tracker)
    if is_yes_or_no(text) or text.strip().startswith("/"):
        return None
    relation, person = person_named(tracker)
    if relation:  # "it's for my sister Maria López": the NLU's person
        return person if person and person != current else None
    before, after = _without_ibans(tracker, text)
    said = f"{before} {after}".strip()
    named = bool(re.search(r"\b(?:name|called|named|spel\w*)\b", said, re.IGNORECASE))
    for part in reversed(_PARTS.split(said)):
        name = _name_in(part)
        if not name or name == current:
            continue
        words = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", name)
        if not words or len(words) > 5 or _NOT_NAME_WORDS.intersection(w.lower() for w in words):
            continue
        changed = says_a_change(text) and all(w[0].isupper() for w in words)
        shared = set(_folded(name).split()) & set(_folded(current or "").split())
        if named or changed or shared:
            return _with_the_rest(name, part, current)
    return None


def _folded(name: str) -> str:
    """Lower case without accents: "María García" and "maria garcia" share words."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


_LAST_NAME = re.compile(r"\b(?:last|family|second|sur) ?name\b", re.IGNORECASE)
_FIRST_NAME = re.compile(r"\b(?:first|given) name\b", re.IGNORECASE)


def _with_the_rest(name: str, part: str, current: str | None) -> str:
    """ "the last name is López": the current first name with it ("Maria López"); "the
    first name is Marie": it with the current last name."""
    words = (current or "").split()
    if len(words) < 2:
        return name
    if _LAST_NAME.search(part):
        return f"{words[0]} {name}"
    if _FIRST_NAME.search(part):
        return f"{name} {' '.join(words[1:])}"
    return name


# The parts of a correction: "the name is wrong, it should be …", "yes but call her …".
_PARTS = re.compile(r"[,;]|\s+but\s+", re.IGNORECASE)


_NAME_IS = re.compile(
    r"\b(?:sur|(?:last|family|second|first|given|full) )?name\s*(?:is|should be|reads|:|=)\s+"
    r"(?P<name>.+)$",
    re.IGNORECASE,
)


def _name_in(part: str) -> str | None:
    """The name one part of a correction gives, without its lead ("it should be",
    "I meant") and without the old name it corrects ("… not Maria Garcia")."""
    part = _OLD_NAME_FIRST.sub("", part)
    called = _NAME_IS.search(part) or _CALLED.search(part)
    candidate = called.group("name") if called else _ANSWER_LEAD.sub("", _CHANGE_LEAD.sub("", part))
    return tidy_name(_SPELLING_NOTE.sub("", _OLD_NAME_AFTER.sub("", candidate)))


# "Jonas Webber with two b", "Lee (double e)", "Meier spelt with e-i": how it is written,
# not part of the name.
_SPELLING_NOTE = re.compile(
    r"\s*(?:\(.*|\bwith\s+(?:a|an|one|two|three|double|\d)\s+\S.*|\bspel(?:t|led)\b.*|"
    r"\bwritten\b.*)$",
    re.IGNORECASE,
)


# --- listing ------------------------------------------------------------------------------
