"""A person's name said with a relation (pure; used by `entity_rules`).

"add my brother as a payee, Tom Becker, DE89 …" and "send 50 to my sister Anna" name a
person (Tom Becker, Anna) and say who they are to the customer (brother, sister): the
relation is no name, and a form must not save "my brother" as one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RELATIONS = frozenset(
    {
        "brother",
        "sister",
        "mum",
        "mom",
        "mother",
        "mama",
        "dad",
        "father",
        "papa",
        "son",
        "daughter",
        "wife",
        "husband",
        "partner",
        "fiance",
        "fiancee",
        "friend",
        "girlfriend",
        "boyfriend",
        "cousin",
        "uncle",
        "aunt",
        "auntie",
        "grandma",
        "grandmother",
        "grandpa",
        "grandfather",
        "granny",
        "niece",
        "nephew",
        "colleague",
        "boss",
        "landlord",
        "landlady",
        "flatmate",
        "roommate",
        "neighbour",
        "neighbor",
        "babysitter",
        "cleaner",
        "nanny",
        "brother-in-law",
        "sister-in-law",
        "mother-in-law",
        "father-in-law",
        "stepmother",
        "stepfather",
        "stepson",
        "stepdaughter",
        "godmother",
        "godfather",
        "kid",
        "child",
    }
)
_RELATION = re.compile(
    r"\bmy\s+(?:(?:best|old|little|big|younger|older|elder|baby|dear)\s+)?(?P<rel>"
    + "|".join(sorted((re.escape(r) for r in RELATIONS), key=len, reverse=True))
    + r")(?:'s)?\b",
    re.IGNORECASE,
)
# Words between the relation and the name: "my brother, Tom", "my sister called Anna",
# "my brother as a new payee - Tom Becker".
_FILLER = re.compile(
    r"^(?:\s*(?:[,:;(-]|(?:as|a|an|new|payee|recipient|beneficiary|contact|called|named|"
    r"whose name is|his name is|her name is|name is|who is|is)\b))*\s*",
    re.IGNORECASE,
)
_LETTERS = "a-z\u00e0-\u00ff'\u2019"  # lower case, accented, apostrophes
_CAPITALISED = re.compile(rf"[A-Z][{_LETTERS}]+(?:[ -][A-Z][{_LETTERS}]+){{0,2}}")
_LOWER_NAME = re.compile(rf"[{_LETTERS[:-2]}][{_LETTERS}]+")
_TITLE = r"(?:mrs?|ms|miss|dr|prof)"  # in any case
_BARE_TITLE = re.compile(rf"{_TITLE}\.?", re.IGNORECASE)
# A title and the name after it, however typed ("my landlord mr. o'brien", "Dr Weber"):
# the title alone is no name (the rules above stopped at its full stop).
_TITLED = re.compile(
    rf"(?i:{_TITLE})\.?\s+[A-Za-z\u00c0-\u00ff][{_LETTERS}]+(?:[ -][A-Z][{_LETTERS}]+)?"
)
# Lower-case words straight after a relation that are no name ("my sister for dinner").
_NOT_NAMES = frozenset(
    {
        "for",
        "with",
        "please",
        "now",
        "today",
        "tomorrow",
        "the",
        "a",
        "an",
        "and",
        "as",
        "to",
        "from",
        "in",
        "on",
        "at",
        "of",
        "some",
        "money",
        "euros",
        "eur",
        "back",
        "who",
        "that",
        "this",
        "is",
        "was",
        "her",
        "his",
        "their",
        "account",
        "iban",
        "too",
        "also",
        "again",
        "then",
        "so",
        "but",
        "or",
        "by",
        "via",
        "payee",
        "recipient",
        "new",
        "called",
        "named",
        "pls",
        "thanks",
        "asap",
    }
)


@dataclass(frozen=True)
class Person:
    name: str | None  # as typed; None when only the relation is said
    relation: str  # lower case: "brother"
    start: int  # of the name, else of the relation
    end: int
    relation_start: int
    relation_end: int


def people(text: str) -> list[Person]:
    """Each "my <relation> [name]" in `text`."""
    found = []
    for m in _RELATION.finditer(text):
        rest = text[m.end() :]
        filler = _FILLER.match(rest)
        offset = m.end() + (filler.end() if filler else 0)
        name = _TITLED.match(text, offset) or _CAPITALISED.match(text, offset)
        if name is None:
            lower = _LOWER_NAME.match(text, m.end() + len(rest) - len(rest.lstrip()))
            if lower and lower.group(0).lower() not in _NOT_NAMES | RELATIONS:
                name = lower
        relation = m.group("rel").lower()
        if name is not None and _BARE_TITLE.fullmatch(name.group(0)):
            name = None  # "my landlord mr." names nobody yet
        if name is None:
            found.append(Person(None, relation, m.start(), m.end(), m.start(), m.end()))
        else:
            found.append(
                Person(name.group(0), relation, name.start(), name.end(), m.start(), m.end())
            )
    return found
