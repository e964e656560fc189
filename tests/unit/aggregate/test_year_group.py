"""The year group's rules, from published summaries alone (what the door checks)."""

from __future__ import annotations

import pytest

from vanfed.aggregate import Refusal, check_history
from vanfed.aggregate._year_group import YearGroupRefusal, check_year_group
from vanfed.anonymize import build_ptable
from vanfed.errors import ReasonCode
from vanfed.schema import (
    CKM_METHOD,
    AuditRecord,
    CkmParams,
    Protection,
    PublishedAxis,
    PublishedTable,
    Summary,
    load_codebook,
)
from vanfed.testing import small_summary

NOISE = build_ptable(CkmParams(max_noise=5, variance=3.0, js=4)).record()


def _ckm(s: Summary, *, at: str = "2026-11-22T11:00:00Z", tables=None) -> Summary:
    protection = Protection(
        k=5,
        s=5,
        method=CKM_METHOD,
        ckm=NOISE,
        audit=AuditRecord(
            method="ckm-ptable-lookup", passed=True, published_cells=4, suppressed_cells=0
        ),
    )
    return s.model_copy(
        update={"protection": protection, "created_at": at, "tables": tables or s.tables}
    )


def _pub(period: str, revision: int = 1, **kw) -> Summary:
    parent = "sha256:" + "1" * 64 if revision > 1 else None
    return _ckm(small_summary("KHM", period, revision=revision, supersedes=parent), **kw)


T1, T2 = "2026-11-22T11:00:00Z", "2026-11-22T12:00:00Z"


def test_one_method_per_year_group_both_ways_and_for_the_same_period() -> None:
    exact_q1 = small_summary("KHM", "2024-Q1")
    with pytest.raises(YearGroupRefusal, match="2024-Q1 r1 was published with suppression"):
        check_year_group(_pub("2024"), [exact_q1])
    with pytest.raises(YearGroupRefusal, match="publish it with the cell key method"):
        check_year_group(
            small_summary("KHM", "2024", revision=2, supersedes="sha256:" + "1" * 64),
            [_pub("2024")],
        )
    # Other years and other countries hold other records.
    check_year_group(_pub("2024"), [small_summary("KHM", "2023"), small_summary("LAO", "2024")])


def test_a_quarter_may_follow_its_year_only_in_the_same_run() -> None:
    year = _pub("2024", at=T1)
    check_year_group(_pub("2024-Q3", at=T1), [year])  # made in one run: quarters first
    with pytest.raises(YearGroupRefusal, match="2024 r1 was published before this quarter"):
        check_year_group(_pub("2024-Q3", at=T2), [year])
    # A quarter's revision after its year is fine: its own earlier numbers anchor it.
    q3 = _pub("2024-Q3", at=T1)
    check_year_group(_pub("2024-Q3", 2, at=T2), [q3, year])


def _table(name: str, codes=("f", "m", "_U", "_T")) -> PublishedTable:
    return PublishedTable(
        name=name, axes=(PublishedAxis(dim="sex", codes=codes),), values=(5, 6, 0, 11)
    )


def test_no_table_first_published_in_a_revision_or_missing_from_the_quarters() -> None:
    r1 = _pub("2024", at=T1)
    check_year_group(_pub("2024", 2, at=T2), [r1])
    extra = (*r1.tables, _table("casualties_by_sex_again"))
    with pytest.raises(
        YearGroupRefusal, match="table casualties_by_sex_again is new since 2024 r1"
    ):
        check_year_group(_pub("2024", 2, at=T2, tables=extra), [r1])
    # A table dropped in a revision and brought back later keeps its earlier numbers.
    both = (*r1.tables, _table("other"))
    r1b, r2b = _pub("2024", at=T1, tables=both), _pub("2024", 2, at=T2, tables=both[1:])
    check_year_group(r2b, [r1b])
    check_year_group(_pub("2024", 3, at="2026-11-22T13:00:00Z", tables=both), [r1b, r2b])
    # A year's tables must be in each quarter published before it.
    q1 = _pub("2024-Q1", at=T1)
    with pytest.raises(YearGroupRefusal, match="is not in 2024-Q1 r1"):
        check_year_group(_pub("2024", at=T2, tables=extra), [q1])
    with pytest.raises(YearGroupRefusal, match="other axes than in 2024-Q1 r1"):
        check_year_group(
            _pub("2024", at=T2, tables=(_table("casualties_by_sex", ("m", "f", "_U", "_T")),)),
            [q1],
        )


def test_suppression_summaries_meet_only_the_method_rule() -> None:
    """Suppression is protected by the history attack, which handles years against quarters
    and new tables itself."""
    year = small_summary("KHM", "2024")
    later = small_summary("KHM", "2024-Q3").model_copy(update={"created_at": T2})
    check_year_group(later, [year])


def test_the_door_refuses_with_history_disclosure() -> None:
    with pytest.raises(Refusal) as exc:
        check_history(_pub("2024-Q3", at=T2), [_pub("2024", at=T1)], load_codebook())
    assert exc.value.reason == ReasonCode.HISTORY_DISCLOSURE
    assert "publish quarters before their year" in exc.value.message
