"""A search period moved by one unit, for "and the month before?" (pure).

The NLU says what to move (`period_shift`: {"unit", "by"}, bot/components/periods.py);
only the action knows the period of the search before. Callers may rely on: a whole
calendar month, week (Monday to Sunday) or year moves to the whole one before or after;
any other period keeps its length and moves by the unit; a period is never moved past
today (its end is cut there), and None comes back when nothing would be left.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import Any

UNITS = ("day", "week", "month", "year")


def shifted(period: dict[str, str], shift: Any, today: date | None = None) -> dict[str, str] | None:
    """`period` ({"from", "to"} ISO dates, inclusive) moved by `shift`; None when the
    shift or period is malformed or the result would start after today."""
    today = today or date.today()
    if (
        not isinstance(shift, dict)
        or shift.get("unit") not in UNITS
        or shift.get("by") not in (-1, 1)
    ):
        return None
    try:
        start, end = date.fromisoformat(period["from"]), date.fromisoformat(period["to"])
    except (KeyError, TypeError, ValueError):
        return None
    unit, by = shift["unit"], shift["by"]
    same_month = (start.year, start.month) == (end.year, end.month)
    if unit == "month" and start.day == 1 and same_month:
        # A calendar month (the current one runs only to today): the whole month next to it.
        first = _add_months(start, by)
        new = (first, _month_end(first))
    elif unit == "year" and (start.month, start.day) == (1, 1) and start.year == end.year:
        new = (date(start.year + by, 1, 1), date(start.year + by, 12, 31))
    elif unit == "week" and start.weekday() == 0 and (end - start).days <= 6:
        monday = start + timedelta(days=7 * by)
        new = (monday, monday + timedelta(days=6))
    elif unit in ("day", "week"):
        step = timedelta(days=(1 if unit == "day" else 7) * by)
        new = (start + step, end + step)
    else:
        new = (
            _add_months(start, by * (12 if unit == "year" else 1)),
            _add_months(end, by * (12 if unit == "year" else 1)),
        )
    if new[0] > today:
        return None
    return {"from": new[0].isoformat(), "to": min(new[1], today).isoformat()}


def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))
