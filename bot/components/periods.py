"""Periods of time in customers' words (pure; used by `entity_rules`).

Dates ("1 June", "2026-11-03", "03.11.2026", "28/11"), ranges ("between 1 and 15 June"),
relative periods ("last month", "last 7 days", "last friday", "two weeks ago") and years
("in 2025") resolved against `today`,
a follow-up naming only a month ("what about october?"), and "since payday", which only
the account history can resolve (the action looks up the latest salary credit).
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta
from typing import Any

MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
MONTHS.update({m.lower(): i for i, m in enumerate(calendar.month_abbr) if m})
MONTHS["sept"] = 9
MONTH_RE = "|".join(sorted(MONTHS, key=len, reverse=True))
WEEKDAYS = [d.lower() for d in calendar.day_name]
WEEKDAY_RE = "|".join(WEEKDAYS)
# "two weeks ago", "a month ago": how many, in words as customers type them.
AGO_COUNTS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
AGO_COUNTS |= {"seven": 7, "eight": 8, "nine": 9, "ten": 10, "a couple of": 2, "a few": 3}
AGO_RE = "|".join(sorted(AGO_COUNTS, key=len, reverse=True))
# A year alone ("in 2025") is no amount: not when a currency follows it.
NOT_MONEY = r"(?!\s*(?:€|\$|£|eur\b|euros?\b|usd\b|gbp\b|k\b|bucks\b))"


def _day_month(day: str, month: str, year: str | None, today: date) -> date | None:
    try:
        y = int(year) if year else today.year
        d = date(y, MONTHS[month.lower()], int(day))
    except (ValueError, KeyError):
        return None
    return d.replace(year=d.year - 1) if not year and d > today else d


DATE_RE = (
    rf"(?:(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<m1>{MONTH_RE})\b|"
    rf"(?P<m2>{MONTH_RE})\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\b)(?:,?\s+(?P<y>\d{{4}}))?|"
    r"(?P<iso>\d{4}-\d{2}-\d{2})|(?P<dd>\d{1,2})[./](?P<mm>\d{1,2})[./](?P<yy>\d{4})|"
    # Day/month without a year only with a slash: "12.50" is an amount, "28/11" a date.
    r"(?P<sd>\d{1,2})/(?P<sm>\d{1,2})\b(?![/.]\d)"
)


def _parse_date(m: re.Match[str], today: date) -> date | None:
    if m.group("iso"):
        try:
            return date.fromisoformat(m.group("iso"))
        except ValueError:
            return None
    if m.group("dd"):
        try:  # European order: day first
            return date(int(m.group("yy")), int(m.group("mm")), int(m.group("dd")))
        except ValueError:
            return None
    if m.group("sd"):
        try:  # the latest such day up to today
            d = date(today.year, int(m.group("sm")), int(m.group("sd")))
        except ValueError:
            return None
        return d.replace(year=d.year - 1) if d > today else d
    day, month = (m.group("d1"), m.group("m1")) if m.group("d1") else (m.group("d2"), m.group("m2"))
    return _day_month(day, month, m.group("y"), today)


def _month_span(month: int, year: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def time_period(text: str, today: date) -> tuple[dict[str, str], int, int] | None:
    """The first period the text names: ({"from", "to"} ISO dates, start, end)."""
    lower = text.lower()
    rules: list[tuple[str, Any]] = [
        (
            rf"\b(?:between|from)\s+(?P<a>{DATE_RE.replace('?P<', '?P<a_')})"
            r"\s+(?:and|to|until|-)\s+"
            rf"(?P<b>{DATE_RE.replace('?P<', '?P<b_')})",
            "range",
        ),
        (
            rf"\b(?:between|from)\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:and|to|-)\s+"
            rf"(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<m>{MONTH_RE})\b",
            "days_of_month",
        ),
        (rf"\bsince\s+(?P<m>{MONTH_RE})\b(?:\s+(?P<y>\d{{4}}))?(?!\s+\d)", "since_month"),
        (rf"\bsince\s+(?:the\s+)?(?P<x>{DATE_RE})", "since_date"),
        # Before "yesterday" and "last month" below, which they contain.
        (r"\b(?:the\s+)?day\s+before\s+yesterday\b", "day_before_yesterday"),
        (r"\bthe\s+(?P<u>week|month|year)\s+before\s+last\b", "before_last"),
        (r"\btoday\b", "today"),
        (r"\byesterday\b", "yesterday"),
        (r"\bthis\s+week\b", "this_week"),
        (r"\blast\s+week\b", "last_week"),
        (r"\bthis\s+month\b", "this_month"),
        (r"\blast\s+month\b", "last_month"),
        (r"\bthis\s+year\b", "this_year"),
        (r"\blast\s+year\b", "last_year"),
        (r"\b(?:last|past|previous)\s+(?P<n>\d{1,3})\s+(?P<u>days?|weeks?|months?)\b", "last_n"),
        (rf"\b(?:last|past|previous|this past)\s+(?P<wd>{WEEKDAY_RE})\b", "last_weekday"),
        (rf"\b(?P<n>\d{{1,2}}|{AGO_RE})\s+(?P<u>days?|weeks?|months?)\s+ago\b", "ago"),
        (rf"\bon\s+(?:the\s+)?(?P<x>{DATE_RE})", "on_date"),
        (rf"\b(?:in|during|for)\s+(?P<m>{MONTH_RE})\b(?:\s+(?P<y>\d{{4}}))?(?!\s+\d)", "month"),
        (
            rf"\b(?:in|during|for|of)\s+(?:the\s+year\s+)?(?P<y>(?:19|20)\d{{2}})\b{NOT_MONEY}",
            "year",
        ),
        # A follow-up naming only a month: "what about october?", "and in May?"
        (
            rf"^\W*(?:and|what about|how about)\s+(?:in\s+)?(?P<m>{MONTH_RE})\b"
            rf"(?:\s+(?P<y>\d{{4}}))?\W*$",
            "month",
        ),
    ]
    for pattern, kind in rules:
        m = re.search(pattern, lower)
        if m is None:
            continue
        span = _resolve(kind, m, today)
        if span is not None:
            start, end = span
            return {"from": start.isoformat(), "to": end.isoformat()}, m.start(), m.end()
    return None


# Two periods set against each other: "this month compared to last month", "october vs
# november", "did i spend more in october or in november".
_COMPARED = re.compile(r"\b(?:compared?|comparison|vs\.?|versus|than|or|and)\b", re.IGNORECASE)


def compared_periods(text: str, today: date) -> list[tuple[dict[str, str], int, int]]:
    """The two periods a comparison names, in the order said (each as time_period gives
    it), with a word of comparison between them; [] when the text compares no two
    periods. A month needs no "in" here ("october vs november")."""
    if not _COMPARED.search(text):
        return []
    found: list[tuple[dict[str, str], int, int]] = []
    rest = text
    for _ in range(2):
        period = time_period(rest, today) or _bare_month(rest, today)
        if period is None:
            return []
        found.append(period)
        _, start, end = period
        rest = rest[:start] + " " * (end - start) + rest[end:]
    first, second = sorted(found, key=lambda p: p[1])
    if first[0] == second[0] or not _COMPARED.search(text[first[2] : second[1]]):
        return []
    return [first, second]


# A month said alone: its full name, but never "may" ("or may i ...").
_BARE_MONTH_RE = "|".join(m.lower() for m in calendar.month_name if m and m != "May")
_BARE_MONTH = re.compile(rf"\b(?P<m>{_BARE_MONTH_RE})\b(?:\s+(?P<y>\d{{4}}))?(?!\s+\d)")


def _bare_month(text: str, today: date) -> tuple[dict[str, str], int, int] | None:
    m = _BARE_MONTH.search(text.lower())
    span = _resolve("month", m, today) if m else None
    if m is None or span is None:
        return None
    return {"from": span[0].isoformat(), "to": span[1].isoformat()}, m.start(), m.end()


def _resolve(kind: str, m: re.Match[str], today: date) -> tuple[date, date] | None:
    g = m.groupdict()
    if kind == "range":
        a = _parse_date(re.search(DATE_RE, g["a"]), today)  # type: ignore[arg-type]
        b = _parse_date(re.search(DATE_RE, g["b"]), today)  # type: ignore[arg-type]
        return (min(a, b), max(a, b)) if a and b else None
    if kind == "days_of_month":
        a = _day_month(g["d"], g["m"], None, today)
        b = _day_month(g["d2"], g["m"], None, today)
        return (min(a, b), max(a, b)) if a and b else None
    if kind in ("since_month", "month"):
        month = MONTHS[g["m"]]
        past_year = today.year if month <= today.month else today.year - 1
        year = int(g["y"]) if g.get("y") else past_year
        first, last = _month_span(month, year)
        return (first, today) if kind == "since_month" else (first, min(last, today))
    if kind in ("since_date", "on_date"):
        d = _parse_date(re.search(DATE_RE, g["x"]), today)  # type: ignore[arg-type]
        if d is None:
            return None
        return (d, today) if kind == "since_date" else (d, d)
    if kind == "last_weekday":  # the latest one before today
        back = (today.weekday() - WEEKDAYS.index(g["wd"])) % 7 or 7
        return today - timedelta(days=back), today - timedelta(days=back)
    if kind == "day_before_yesterday":
        return _ago(2, "day", today)
    if kind == "before_last":
        if g["u"] == "year":
            return date(today.year - 2, 1, 1), date(today.year - 2, 12, 31)
        return _ago(2, g["u"], today)
    if kind == "ago":
        return _ago(AGO_COUNTS.get(g["n"]) or int(g["n"]), g["u"].rstrip("s"), today)
    if kind == "year":
        year = int(g["y"])
        return (date(year, 1, 1), min(date(year, 12, 31), today)) if year <= today.year else None
    if kind == "last_n":
        n, unit = int(g["n"]), g["u"].rstrip("s")
        days = {"day": 1, "week": 7, "month": 30}[unit] * n
        return today - timedelta(days=days), today
    monday = today - timedelta(days=today.weekday())
    first_of_month = today.replace(day=1)
    last_month_end = first_of_month - timedelta(days=1)
    fixed = {
        "today": (today, today),
        "yesterday": (today - timedelta(days=1), today - timedelta(days=1)),
        "this_week": (monday, today),
        "last_week": (monday - timedelta(days=7), monday - timedelta(days=1)),
        "this_month": (first_of_month, today),
        "last_month": (last_month_end.replace(day=1), last_month_end),
        "this_year": (date(today.year, 1, 1), today),
        "last_year": (date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)),
    }
    return fixed.get(kind)


def _ago(n: int, unit: str, today: date) -> tuple[date, date]:
    """ "n days ago" is that day; "n weeks ago" that Monday-to-Sunday week; "n months ago"
    that calendar month (never past today)."""
    if unit == "day":
        day = today - timedelta(days=n)
        return day, day
    if unit == "week":
        monday = today - timedelta(days=today.weekday() + 7 * n)
        return monday, min(monday + timedelta(days=6), today)
    month_index = today.year * 12 + today.month - 1 - n
    first, last = _month_span(month_index % 12 + 1, month_index // 12)
    return first, min(last, today)


# "since payday", "since I got paid", "since my last salary": a date only the account
# history knows (the action looks the salary credit up).
_PAYDAY = re.compile(
    r"\bsince\s+(?:(?:my|the)\s+)?(?:last\s+)?(?:pay\s?day|salary(?:\s+(?:came\s+in|"
    r"arrived|day))?|pay\s?check|pay\s?cheque|wages|i\s+(?:got|was|last\s+got)\s+paid)\b",
    re.IGNORECASE,
)


def payday(text: str) -> tuple[int, int] | None:
    """Where the text says "since payday" (or the like), if it does."""
    m = _PAYDAY.search(text)
    return m.span() if m else None


# "and the month before?", "what about the week after", "a year earlier": the period of
# the search before, moved by one unit (the action knows that period; the NLU only the
# words).
_SHIFT = re.compile(
    r"\b(?:the|a|one)\s+(?P<u>day|week|month|year)\s+(?P<d>before|after|earlier|later|prior)\b",
    re.IGNORECASE,
)


def period_shift(text: str) -> tuple[dict[str, Any], int, int] | None:
    """({"unit": "day"|"week"|"month"|"year", "by": -1|1}, start, end) where the text
    moves the last period by one unit, if it does."""
    m = _SHIFT.search(text)
    if m is None:
        return None
    by = 1 if m.group("d").lower() in ("after", "later") else -1
    return {"unit": m.group("u").lower(), "by": by}, m.start(), m.end()
