"""The plan's next safe step for a period refused by the history: each alternative is a dry
run of the node's real protection, and nothing is written."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pytest

from vanfed import Node
from vanfed._plan import _refused, next_step
from vanfed._run import Refused
from vanfed.anonymize._no_safe import Finding, NoSafePublication
from vanfed.ingest import CodedRecords
from vanfed.schema import RevisionCalendar, load_mapping
from vanfed.synthetic import write_export
from vanfed.testing import NOW, seeded

WHEN = dt.datetime(2025, 2, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def khm(tmp_path_factory: pytest.TempPathFactory) -> CodedRecords:
    ex = write_export("KHM", tmp_path_factory.mktemp("khm"), years=range(2024, 2025), seed=11)
    return Node("KHM").ingest(ex.path, load_mapping(ex.mapping_path), today=NOW.date())


def blocked(period: str, cell: dict[str, str], lo: float = 1, hi: float = 3) -> Refused:
    finding = Finding("added", f"change of {period} in cell {cell}", lo, hi)
    error = NoSafePublication(
        f"{period} r2",
        finding,
        (lo, hi),
        proven=True,
        key=cell,
        change=True,
        contradicted=False,
        k=5,
        s=5,
    )
    return Refused(period, 2, error)


def test_a_refused_quarter_is_offered_its_year_and_a_coarser_layout(
    khm: CodedRecords, tmp_path: Path
) -> None:
    node = Node("KHM", ledger=tmp_path / "ledger")
    refused = blocked("2024-Q2", {"admin1": "KH-1", "outcome": "killed"})
    step, tried = next_step(node, khm, refused, now=WHEN, exhaustive=True)
    kinds = {a.kind: a for a in tried}
    assert kinds["year"].safe and "publish the year 2024 (r1) instead of 2024-Q2" in step
    assert kinds["layout"].safe  # without the admin-1 table, the finest holding the cell
    assert "without table casualties_by_admin1" in kinds["layout"].description
    assert "up to 4 more records in cell" in kinds["wait"].description  # [1, 3]: 5 − 1
    assert not any((tmp_path / "ledger" / "envelopes").iterdir())  # dry runs write nothing


def test_a_refused_year_waits_for_records_or_the_next_window(
    khm: CodedRecords, tmp_path: Path
) -> None:
    refused = blocked("2024", {}, lo=2, hi=4)
    assert "proven" in str(refused.error) and "[2, 4] inside (0, 5)" in str(refused.error)
    node = Node("KHM", ledger=tmp_path / "ledger")
    _, tried = next_step(node, khm, refused, now=WHEN, exhaustive=True)
    assert "year" not in {a.kind for a in tried}  # it is the year
    assert tried[-1].description == (
        "summarize 2024 again once up to 3 more records in cell total have arrived (its "
        "change then reaches k = 5)"
    )
    windows = Node("KHM", ledger=tmp_path / "ledger", calendar=RevisionCalendar())
    _, tried = next_step(windows, khm, refused, now=WHEN, exhaustive=True)
    assert tried[-1].kind == "window" and "opening 2026-01-01" in tried[-1].description


def test_an_alternative_is_tried_in_the_run_it_would_be_published_in(tmp_path: Path) -> None:
    # Regression: the layout was dry-run for the quarter alone, without the run's other
    # quarters, and called "safe now" while the same run with --drop-table refused it.
    ex = write_export("KHM", tmp_path / "ex", years=range(2024, 2025), seed=3)
    records = Node("KHM").ingest(ex.path, load_mapping(ex.mapping_path), today=NOW.date())
    known = np.random.default_rng(3).random(len(records.fields["year"])) < 0.8
    node = Node("KHM", ledger=tmp_path / "ledger")
    node.sign(node.summarize(_subset(records, known), period="2024", now=WHEN), seeded("KHM"))
    run = ["2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4", "2024"]
    later = WHEN + dt.timedelta(days=30)
    refused = node.plan(records, now=later, periods=run).refused
    assert refused
    for period in refused:
        for alt in period.alternatives:
            if alt.kind == "layout":  # follow it: the same run without that table
                drop = alt.description.split("without table ")[1].split()[0].rstrip(":")
                fewer = node.with_tables([t for t in node.tables if t.name != drop])
                made = {s.period for s in fewer.dry_run(records, run, later)}
                assert alt.safe == (period.period in made), alt.description
            if alt.kind == "year":  # the run without this quarter
                others = [p for p in run if p != period.period]
                made = {s.period for s in node.dry_run(records, others, later)}
                assert alt.safe == ("2024" in made), alt.description


def _subset(records: CodedRecords, keep: np.ndarray) -> CodedRecords:
    """The records known at an earlier snapshot (``keep``: the share that had arrived)."""
    fields = {f: v[keep] for f, v in records.fields.items()}
    return CodedRecords(records.country, fields, records.codes, records.quality, records.source)


def test_a_period_without_records_is_planned_as_the_zero_return_summarize_needs(
    khm: CodedRecords, tmp_path: Path
) -> None:
    # Regression: the plan said "safe now, 0% of cells shown" for a period without records
    # (or an export whose every row was rejected), which summarize refuses (exit 2).
    plan = Node("KHM", ledger=tmp_path / "ledger").plan(khm, now=WHEN, periods=["2024", "2025"])
    year, empty = plan.periods
    assert not year.zero_return and year.message == "2024 r1: safe now"
    assert empty.zero_return and empty.published_share is None
    assert "only as a zero return (summarize --zero-return)" in empty.message
    assert "no accepted records in period 2025" in empty.message


def test_an_unbounded_interval_is_valid_json(khm: CodedRecords, tmp_path: Path) -> None:
    # Regression: an unbounded widest interval was kept as float("inf"), which --json
    # printed as the non-JSON token Infinity; LP noise such as 1.9999999999999991 showed too.
    node = Node("KHM", ledger=tmp_path / "ledger")
    for hi, shown in ((math.inf, None), (2.9999999999999991, 3.0)):
        planned = _refused(node, khm, blocked("2024", {}, lo=1, hi=hi), WHEN, ["2024"])
        text = json.dumps(planned.to_json_obj(), allow_nan=False)
        assert json.loads(text)["interval"] == [1.0, shown]
