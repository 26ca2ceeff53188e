"""A search period moved by one unit (actions/periods.py), for "and the month before?"."""

from __future__ import annotations

from datetime import date

import pytest

from actions.periods import shifted

TODAY = date(2026, 12, 5)


def period(start: str, end: str) -> dict[str, str]:
    return {"from": start, "to": end}


@pytest.mark.parametrize(
    ("last", "shift", "moved"),
    [
        # Whole calendar months, weeks and years move to the whole one next to them.
        (period("2026-11-01", "2026-11-30"), ("month", -1), period("2026-10-01", "2026-10-31")),
        (period("2026-03-01", "2026-03-31"), ("month", -1), period("2026-02-01", "2026-02-28")),
        (period("2026-01-01", "2026-01-31"), ("month", -1), period("2025-12-01", "2025-12-31")),
        # This month so far: the whole month before it.
        (period("2026-12-01", "2026-12-05"), ("month", -1), period("2026-11-01", "2026-11-30")),
        (period("2026-11-23", "2026-11-29"), ("week", -1), period("2026-11-16", "2026-11-22")),
        (period("2025-01-01", "2025-12-31"), ("year", 1), period("2026-01-01", "2026-12-05")),
        # Any other period keeps its length.
        (period("2026-11-20", "2026-11-20"), ("day", -1), period("2026-11-19", "2026-11-19")),
        (period("2026-10-31", "2026-10-31"), ("month", -1), period("2026-09-30", "2026-09-30")),
        (period("2026-11-10", "2026-11-20"), ("week", 1), period("2026-11-17", "2026-11-27")),
        # Never past today: cut there.
        (period("2026-11-01", "2026-11-30"), ("month", 1), period("2026-12-01", "2026-12-05")),
    ],
)
def test_a_period_moves_by_one_unit(
    last: dict[str, str], shift: tuple[str, int], moved: dict[str, str]
) -> None:
    assert shifted(last, {"unit": shift[0], "by": shift[1]}, TODAY) == moved


@pytest.mark.parametrize(
    ("last", "shift"),
    [
        (period("2026-12-01", "2026-12-05"), {"unit": "month", "by": 1}),  # the future
        (period("2026-11-01", "2026-11-30"), {"unit": "fortnight", "by": -1}),
        (period("2026-11-01", "2026-11-30"), {"unit": "month", "by": -3}),
        (period("2026-11-01", "2026-11-30"), "the month before"),
        ({"from": "yesterday", "to": "2026-11-30"}, {"unit": "month", "by": -1}),
    ],
)
def test_nothing_comes_back_for_what_cannot_move(last: dict[str, str], shift: object) -> None:
    assert shifted(last, shift, TODAY) is None
