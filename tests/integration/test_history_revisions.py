"""Revisions that hide their total instead of being refused, and the revision calendar.

Each history goes through the node's real path (protect jointly with the ledger, sign,
keep) and is then handed, whole, to the independent attacker of ``tests/attacker.py``
(scipy LPs and MILPs written from the wire format; it reads a hidden total's stated range
from the JSON). Before design B every revision below whose total moved by 1 … 4 records was
refused (``history_disclosure``); now each is published, and the attacker finds nothing.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from tests.attacker import Attacker

from vanfed import Node
from vanfed.aggregate import merge, select_inputs
from vanfed.anonymize import AxisSpec, TableSpec, intervals
from vanfed.errors import ReasonCode
from vanfed.ingest import CodedRecords
from vanfed.schema import RevisionCalendar, Summary, load_mapping
from vanfed.signing import sign_summary
from vanfed.synthetic import write_export
from vanfed.testing import NOW, Trust
from vanfed.transport import Inbox

K = S = 5
UTC = dt.UTC
# Three linked tables instead of the eleven defaults where a history has many snapshots:
# the attacker's LP grows with snapshots × cells (the defaults take it minutes there).
SMALL = tuple(
    TableSpec(name=f"by_{d}", axes=(AxisSpec(dim=d), AxisSpec(dim="outcome")))
    for d in ("sex", "age", "device")
)


@pytest.fixture(scope="module")
def khm(tmp_path_factory: pytest.TempPathFactory) -> CodedRecords:
    ex = write_export("KHM", tmp_path_factory.mktemp("khm"), years=range(2024, 2025), seed=11)
    return Node("KHM").ingest(ex.path, load_mapping(ex.mapping_path), today=NOW.date())


def known(rec: CodedRecords, share: float, extra: int = 0) -> CodedRecords:
    """The records that reached the node by ``share`` of the way, plus ``extra`` more."""
    rank = np.argsort(np.random.default_rng(0).random(len(rec)))
    keep = np.zeros(len(rec), bool)
    keep[rank[: int(share * len(rec)) + extra]] = True
    return CodedRecords(
        rec.country, {f: v[keep] for f, v in rec.fields.items()}, rec.codes, rec.quality
    )


def grand_total(summary: Summary) -> int | None:
    return next(t.values[-1] for t in summary.tables if not t.filter)


def publish(node: Node, trust: Trust, rec: CodedRecords, periods: list[str], when: dt.datetime):
    run = node.summarize_many(rec, periods=periods, now=when)
    for summary in run:
        node.sign(summary, trust.nodes[node.country])
    return run


def test_revisions_with_a_few_late_records_are_published(khm, trust, tmp_path: Path) -> None:
    node = Node("KHM", ledger=tmp_path / "ledger")
    t = dt.datetime(2025, 2, 1, tzinfo=UTC)
    published: list[Summary] = []
    for step, (share, extra) in enumerate([(0.8, 0), (0.8, 3), (1.0, 0)]):
        run = publish(node, trust, known(khm, share, extra), ["2024"], t + dt.timedelta(30 * step))
        assert run.complete, [str(r.error) for r in run.refused]
        published += list(run)
    r1, r2, _ = published
    assert grand_total(r1) is not None  # a first publication shows its total
    assert grand_total(r2) is None  # three late records: hidden, with the range stated
    within = r2.protection.total_within
    assert within is not None and within.since == "r1"
    assert within.low == grand_total(r1) + 1 and within.high == grand_total(r1) + 6
    assert Attacker(published).exposures(k=K, s=S, integer=True) == []
    # Teeth: the same r2 with its total published exactly gives the late records away.
    true_total = len(known(khm, 0.8, 3).fields["year"])
    tables = tuple(
        t if t.filter else t.model_copy(update={"values": (*t.values[:-1], true_total)})
        for t in r2.tables
    )
    protection = r2.protection.model_copy(update={"total_within": None})
    shown = r2.model_copy(update={"tables": tables, "protection": protection})
    assert any("change" in e.what for e in Attacker([r1, shown]).exposures(k=K, s=S))
    # The regional merge bounds every hidden cell with the stated range.
    bare = intervals(r2.tables, node.codebook, "KHM")
    bounded = intervals(r2.tables, node.codebook, "KHM", within)
    assert not all(np.isfinite(hi).all() for _, hi in bare)
    assert all(np.isfinite(hi).all() for _, hi in bounded)
    # … and the coordinator's door takes both revisions.
    inbox = Inbox(
        tmp_path / "inbox",
        trust.registry,
        coordinator=trust.coordinator,
        log_key=trust.log,
        now=lambda: NOW,
    )
    try:
        for summary in published[:2]:
            assert inbox.accept(sign_summary(summary, trust.nodes["KHM"])).new
    finally:
        inbox.close()
    chosen, skipped = select_inputs(tmp_path / "inbox", trust.registry, period="2024", now=NOW)
    assert [c.summary.revision for c in chosen] == [2] and [s.reason for s in skipped] == [
        "superseded"
    ]
    report = merge(
        chosen,
        period="2024",
        report_id="0" * 32,
        created_at="2026-11-22T12:00:00Z",
        codebook=node.codebook,
    )
    assert all(hi is not None for t in report.tables for hi in t.hi)  # nothing unbounded


def test_quarters_revised_with_their_year(khm, trust, tmp_path: Path) -> None:
    """Quarters r1, then quarters r2 with the year r1 in one run, then r3 with the year r2."""
    node = Node("KHM", ledger=tmp_path / "ledger", tables=SMALL)
    quarters = [f"2024-Q{q}" for q in (1, 2, 3, 4)]
    t = dt.datetime(2025, 2, 1, tzinfo=UTC)
    published: list[Summary] = []
    refused = []
    for step, (share, periods) in enumerate(
        [(0.8, quarters), (0.9, [*quarters, "2024"]), (1.0, [*quarters, "2024"])]
    ):
        run = publish(node, trust, known(khm, share), periods, t + dt.timedelta(30 * step))
        published += list(run)
        refused += list(run.refused)
    assert all(r.reason == ReasonCode.HISTORY_DISCLOSURE for r in refused)
    assert len(refused) <= 1, [str(r.error) for r in refused]  # measured: none
    assert {s.period for s in published} >= {"2024", *quarters}
    assert any(s.protection.total_within for s in published)  # hidden totals, attacked too
    assert Attacker(published).exposures(k=K, s=S) == []


def test_the_calendar_batches_revisions(khm, trust, tmp_path: Path) -> None:
    """Quarters published once, the year after it ends and once more a year later."""
    node = Node("KHM", ledger=tmp_path / "ledger", calendar=RevisionCalendar(), tables=SMALL)
    published: list[Summary] = []
    for q in (1, 2, 3, 4):
        when = dt.datetime(2024, 3 * q, 28, tzinfo=UTC) + dt.timedelta(days=10)
        published += publish(node, trust, known(khm, 0.8), [f"2024-Q{q}"], when)
    early = node.summarize_many(known(khm, 0.9), periods=["2024-Q2"], now=NOW)
    (late,) = early.refused  # a quarter is published once
    assert late.reason == ReasonCode.OUTSIDE_WINDOW and "final" in str(late.error)
    published += publish(
        node, trust, known(khm, 0.9), ["2024"], dt.datetime(2025, 1, 20, tzinfo=UTC)
    )
    again = node.summarize_many(
        known(khm, 1.0), periods=["2024"], now=dt.datetime(2025, 6, 1, tzinfo=UTC)
    )
    (wait,) = again.refused
    assert wait.reason == ReasonCode.OUTSIDE_WINDOW
    assert "Next: publish 2024 in the window opening 2026-01-01" in str(wait.error)
    plan = node.plan(known(khm, 1.0), now=dt.datetime(2025, 6, 1, tzinfo=UTC), periods=["2024"])
    (p,) = plan.periods
    assert p.status == "refused" and p.next_step and "2026-01-01" in p.next_step
    final = publish(node, trust, known(khm, 1.0), ["2024"], dt.datetime(2026, 1, 10, tzinfo=UTC))
    assert final.complete
    published += list(final)
    assert [s.period for s in published].count("2024") == 2
    year_r1 = next(s for s in published if s.period == "2024")
    assert year_r1.protection.total_within is not None  # 1 … 6 above its quarters' sum
    assert year_r1.protection.total_within.since == "quarters"
    assert Attacker(published).exposures(k=K, s=S) == []


def test_the_door_replays_in_the_nodes_order(khm, trust, tmp_path: Path) -> None:
    """A run's envelopes reach the door in any order (here each year before its quarters):
    the door attacks the history in the order the node made it, so it takes them all."""
    node = Node("KHM", ledger=tmp_path / "ledger", tables=SMALL)
    quarters = [f"2024-Q{q}" for q in (1, 2, 3, 4)]
    t = dt.datetime(2025, 2, 1, tzinfo=UTC)
    envelopes = []
    for step, (share, periods) in enumerate(
        [(0.8, quarters), (0.9, [*quarters, "2024"]), (1.0, [*quarters, "2024"])]
    ):
        run = node.summarize_many(
            known(khm, share), periods=periods, now=t + dt.timedelta(30 * step)
        )
        assert run.complete
        made = [(s, node.sign(s, trust.nodes["KHM"])) for s in run]
        envelopes += sorted(made, key=lambda m: len(m[0].period))  # the year first
    assert [s.period for s, _ in envelopes[4:9]] == ["2024", *quarters]
    entries = [e.summary.period for e in node.ledger.entries("KHM")] if node.ledger else []
    assert entries[4:9] == [*quarters, "2024"]  # the ledger lists them as they were made
    inbox = Inbox(
        tmp_path / "inbox",
        trust.registry,
        coordinator=trust.coordinator,
        log_key=trust.log,
        now=lambda: NOW,
    )
    try:
        for _, env in envelopes:
            assert inbox.accept(env).new
    finally:
        inbox.close()
