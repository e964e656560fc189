"""The revision calendar (design D): windows, the door's check, and the registry's bytes."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from pydantic import ValidationError

from vanfed.aggregate import Refusal, check_window
from vanfed.cli._registry import _calendar as registry_calendar
from vanfed.errors import InputError
from vanfed.schema import Policy, RevisionCalendar, Summary, TrustRegistry, period_end
from vanfed.testing import Trust, small_summary

UTC = dt.UTC


def at(summary: Summary, when: str, revision: int = 1) -> Summary:
    parent = None if revision == 1 else "sha256:" + "0" * 64
    return Summary.model_validate(
        {
            **summary.model_dump(),
            "created_at": when,
            "revision": revision,
            "supersedes": parent,
        }
    )


def test_periods_end_on_the_first_day_after_them() -> None:
    assert period_end("2024") == dt.datetime(2025, 1, 1, tzinfo=UTC)
    assert period_end("2024-Q1") == dt.datetime(2024, 4, 1, tzinfo=UTC)
    assert period_end("2024-Q4") == dt.datetime(2025, 1, 1, tzinfo=UTC)


def test_windows_open_months_after_the_period() -> None:
    cal = RevisionCalendar(quarter=(0,), year=(1, 12))
    assert cal.opens("2024", 0) == dt.datetime(2025, 2, 1, tzinfo=UTC)
    assert cal.opens("2024", 1) == dt.datetime(2026, 1, 1, tzinfo=UTC)
    assert cal.window("2024", dt.datetime(2025, 1, 20, tzinfo=UTC)) is None
    assert cal.window("2024", dt.datetime(2025, 12, 31, tzinfo=UTC)) == 0
    assert cal.window("2024", dt.datetime(2030, 1, 1, tzinfo=UTC)) == 1
    assert cal.is_final("2024", 1) and not cal.is_final("2024", 0)
    assert cal.window("2024-Q2", dt.datetime(2024, 7, 1, tzinfo=UTC)) == 0


@pytest.mark.parametrize("bad", [(), (12, 0), (0, 0), (-1,), (300,)])
def test_offsets_must_increase(bad: tuple[int, ...]) -> None:
    with pytest.raises(ValidationError):
        RevisionCalendar(year=bad)


def test_the_door_allows_one_publication_per_window() -> None:
    cal = RevisionCalendar()  # quarters once, a year and a final revision a year later
    year = small_summary("KHM", "2024")
    r1 = at(year, "2025-01-15T00:00:00Z")
    check_window(r1, [], cal)
    with pytest.raises(Refusal) as early:
        check_window(at(year, "2024-12-20T00:00:00Z"), [], cal)
    assert early.value.reason == "outside_window" and "opens (2025-01-01)" in str(early.value)
    with pytest.raises(Refusal) as twice:
        check_window(at(year, "2025-06-01T00:00:00Z", 2), [r1], cal)
    assert "already holds r1; the next opens 2026-01-01" in str(twice.value)
    r2 = at(year, "2026-02-01T00:00:00Z", 2)
    check_window(r2, [r1], cal)  # the final window
    with pytest.raises(Refusal, match="2024 is final"):
        check_window(at(year, "2027-02-01T00:00:00Z", 3), [r1, r2], cal)
    quarter = small_summary("KHM", "2024-Q3")
    q1 = at(quarter, "2024-10-02T00:00:00Z")
    with pytest.raises(Refusal, match="2024-Q3 is final"):  # quarters are published once
        check_window(at(quarter, "2025-03-01T00:00:00Z", 2), [q1], cal)
    check_window(at(year, "2025-06-01T00:00:00Z", 2), [r1], None)  # no calendar: any time


def test_a_registry_without_a_calendar_keeps_its_bytes(trust: Trust) -> None:
    reg = trust.registry
    assert "revisions" not in reg.policy.to_json_obj()
    again = TrustRegistry.model_validate(reg.to_json_obj())
    assert again.canonical_bytes() == reg.canonical_bytes()
    with_cal = reg.model_copy(update={"policy": Policy(revisions=RevisionCalendar())})
    assert with_cal.policy.to_json_obj()["revisions"] == {"quarter": [0], "year": [0, 12]}
    assert TrustRegistry.model_validate(with_cal.to_json_obj()).policy.revisions is not None


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "no window given; leave --calendar out for no calendar"),
        (" ; ", "no window given"),
        ("quarter=0;quarter=3", "'quarter' is given twice"),
        ("month=1", "'month' is not quarter or year"),
        ("year=", "'' is not a whole number of months"),
        ("year=0,1e3", "'1e3' is not a whole number of months"),
        ("year=12,0", "window offsets are increasing whole months"),
    ],
)
def test_a_bad_calendar_says_what_is_wrong(text: str, why: str) -> None:
    # Regression: '' and ';' gave the default calendar silently, a kind given twice was
    # "not quarter or year", and a bad number showed Python's int() message.
    with pytest.raises(
        InputError, match=re.escape(f"--calendar {text!r}: ") + ".*" + re.escape(why)
    ):
        registry_calendar(text)
    assert registry_calendar(" year = 0 , 12 ") == RevisionCalendar(year=(0, 12))
