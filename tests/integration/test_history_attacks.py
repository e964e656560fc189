"""Publications together: revisions, years and quarters, attacked as a whole.

Each test publishes through the node's real path (``Node`` with its ledger: protect jointly
with the history, sign, keep) and then hands everything published to the independent
attacker of ``tests/attacker.py`` (scipy LPs and MILPs written from the wire format, not
vanfed's system). Every test also shows that the attack has teeth: the same publications
protected one at a time (today's per-summary guarantee) are broken by it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from tests.attacker import Attacker

from vanfed import Node
from vanfed.anonymize import ProtectionSettings, select_period
from vanfed.errors import InputError, ProtectionError
from vanfed.ingest import CodedRecords
from vanfed.schema import ProtectionPolicy, expand_periods, load_mapping
from vanfed.synthetic import write_export
from vanfed.testing import NOW, Trust

K = S = 5
T1 = NOW - dt.timedelta(days=90)
T2 = NOW - dt.timedelta(days=30)


@pytest.fixture(scope="module")
def khm(tmp_path_factory: pytest.TempPathFactory) -> CodedRecords:
    folder = tmp_path_factory.mktemp("khm")
    ex = write_export("KHM", folder, years=range(2023, 2025), seed=2024)
    node = Node("KHM")
    return node.ingest(ex.path, load_mapping(ex.mapping_path), today=NOW.date())


def subset(rec: CodedRecords, keep: np.ndarray) -> CodedRecords:
    return CodedRecords(
        rec.country, {f: v[keep] for f, v in rec.fields.items()}, rec.codes, rec.quality, rec.source
    )


def in_2024(rec: CodedRecords) -> np.ndarray:
    return np.flatnonzero(select_period(rec, "2024"))


def publish(node: Node, rec: CodedRecords, trust: Trust, *, period: str, now: dt.datetime):
    summary = node.summarize(rec, period=period, now=now)
    node.sign(summary, trust.nodes[node.country])
    return summary


@pytest.mark.parametrize("late", [1, 3])
def test_late_records_do_not_come_out(khm, trust: Trust, tmp_path: Path, late: int) -> None:
    idx = in_2024(khm)
    keep = np.ones(len(khm), bool)
    keep[idx[-late:]] = False
    first, everything = subset(khm, keep), khm
    # Today's guarantee alone: each revision safe on its own, broken together.
    alone = Node("KHM")
    naive = [
        alone.summarize(first, period="2024", now=T1),
        alone.summarize(everything, period="2024", now=T2),
    ]
    exposed = Attacker(naive).exposures(k=K, s=S)
    assert any("change" in e.what for e in exposed), "the attack must have teeth"

    node = Node("KHM", ledger=tmp_path / "ledger")
    r1 = publish(node, first, trust, period="2024", now=T1)
    # Published, not refused (design B: the total moved by 1 or 3, so it is hidden with the
    # range the rule states), and still nothing comes out.
    r2 = publish(node, everything, trust, period="2024", now=T2)
    assert r2.revision == 2 and r2.supersedes is not None
    assert r2.protection.total_within is not None
    assert Attacker([r1, r2]).exposures(k=K, s=S, integer=True) == []


def test_a_deleted_record_does_not_come_out(khm, trust: Trust, tmp_path: Path) -> None:
    idx = in_2024(khm)
    keep = np.ones(len(khm), bool)
    keep[idx[len(idx) // 2]] = False
    node = Node("KHM", ledger=tmp_path / "ledger")
    r1 = publish(node, khm, trust, period="2024", now=T1)
    try:
        r2 = publish(node, subset(khm, keep), trust, period="2024", now=T2)
    except ProtectionError as exc:
        assert exc.reason == "history_disclosure"
        return
    assert Attacker([r1, r2]).exposures(k=K, s=S, integer=True) == []


def test_year_and_its_quarters(khm, trust: Trust, tmp_path: Path) -> None:
    periods = ["2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4", "2024"]
    # Protected one by one (and without the published grand total, which happens to make
    # this data's naive patterns safe), a year and its quarters expose each other.
    bare = ProtectionSettings(policy=ProtectionPolicy(grand_totals=False))
    alone = Node("KHM", settings=bare)
    naive = [alone.summarize(khm, period=p, now=T1) for p in periods]
    assert Attacker(naive).exposures(k=K, s=S), "the attack must have teeth"

    node = Node("KHM", ledger=tmp_path / "ledger")
    joint = node.summarize_many(khm, periods=periods, now=T1)
    assert {s.created_at for s in joint} == {"2026-08-24T12:00:00Z"}  # one snapshot
    assert Attacker(joint).exposures(k=K, s=S, integer=True) == []


def test_quarters_then_a_later_year(khm, trust: Trust, tmp_path: Path) -> None:
    node = Node("KHM", ledger=tmp_path / "ledger")
    quarters = [
        publish(node, khm, trust, period=f"2024-Q{q}", now=T1 + dt.timedelta(hours=q))
        for q in (1, 2, 3, 4)
    ]
    year = publish(node, khm, trust, period="2024", now=T2)
    assert Attacker([*quarters, year]).exposures(k=K, s=S, integer=True) == []


def test_no_count_about_people_outside_the_audited_tables(khm) -> None:
    summary = Node("KHM").summarize(khm, period="2024", now=T1)
    body = summary.model_dump()
    assert "quality" not in body  # records read/accepted/rejected stay at the node
    assert khm.quality.records_accepted == len(khm)  # … where the data manager has them


def test_zero_return_publishes_zeros(khm) -> None:
    with pytest.raises(InputError, match="no accepted records in period 2019"):
        Node("KHM").summarize(khm, period="2019", now=T1)
    zero = Node("KHM").summarize(khm, period="2019", now=T1, allow_empty=True)
    assert all(v == 0 for t in zero.tables for v in t.values)


def test_one_run_many_periods(khm, tmp_path: Path) -> None:
    node = Node("KHM", ledger=tmp_path / "ledger")
    made = node.summarize_many(khm, periods=expand_periods("2023..2024"), now=T1)
    assert [(s.period, s.revision) for s in made] == [("2023", 1), ("2024", 1)]
    assert expand_periods("2024-Q3..2025-Q1") == ["2024-Q3", "2024-Q4", "2025-Q1"]
    assert expand_periods("2024-Q1..2024-Q4,2024")[-1] == "2024"
    for bad in ("2024..2020", "2024..2024-Q1", "24", "2024,2024"):
        with pytest.raises(InputError):
            expand_periods(bad)
