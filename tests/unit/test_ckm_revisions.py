"""CKM revisions at the node: the threshold rule on the change since the last publication.

Under the cell key method a cell keeps its noise exactly while its records stay the same,
so which cells changed between two revisions points at the changed records. The node
refuses a revision in which a changed cell changed by 1..k-1 records.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import stat
from pathlib import Path
from random import Random

import numpy as np
import pytest

from vanfed import Node
from vanfed.anonymize._ckm_revisions import CKM_CELLS_FOLDER, summary_digest
from vanfed.errors import ProtectionError, ReasonCode
from vanfed.ingest import CodedRecords, ingest
from vanfed.schema import load_mapping
from vanfed.synthetic import write_export
from vanfed.testing import NOW, seeded

SIGNER = seeded("node-KHM")
LATER = NOW + dt.timedelta(hours=1)


@pytest.fixture(scope="module")
def khm(tmp_path_factory: pytest.TempPathFactory) -> CodedRecords:
    ex = write_export("KHM", tmp_path_factory.mktemp("khm"), seed=5)
    return ingest(
        ex.path, load_mapping(ex.mapping_path), country="KHM", today=NOW.date(), keep_ids=True
    )


def _take(records: CodedRecords, rows: np.ndarray, ids: np.ndarray | None = None) -> CodedRecords:
    assert records.ids is not None
    return dataclasses.replace(
        records,
        fields={k: v[rows] for k, v in records.fields.items()},
        ids=records.ids[rows] if ids is None else ids,
    )


def _copies(records: CodedRecords, row: int, n: int, first_id: int) -> CodedRecords:
    """``n`` new records (new ids) with exactly the categories of record ``row``."""
    ids = np.arange(first_id, first_id + n, dtype=np.uint64)
    return _take(records, np.full(n, row), ids)


def _join(*parts: CodedRecords) -> CodedRecords:
    fields = {k: np.concatenate([p.fields[k] for p in parts]) for k in parts[0].fields}
    ids = np.concatenate([p.ids for p in parts if p.ids is not None])
    return dataclasses.replace(parts[0], fields=fields, ids=ids)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _first(khm: CodedRecords, tmp_path: Path) -> tuple[Node, CodedRecords, int]:
    """A node whose ledger holds revision 1 of 2024 without one 2024 record (the late one)."""
    late = int(np.flatnonzero(khm.fields["year"] == 2024)[0])
    keep = np.ones(len(khm), bool)
    keep[late] = False
    node = Node("KHM", method="ckm", ledger=tmp_path / "ledger")
    base = _take(khm, keep)
    node.sign(node.summarize(base, period="2024", now=NOW, rng=Random(1)), SIGNER)
    return node, base, late


def test_a_revision_adding_one_late_record_is_refused_and_leaves_the_ledger(khm, tmp_path) -> None:
    node, base, late = _first(khm, tmp_path)
    before = _snapshot(tmp_path / "ledger")
    with pytest.raises(ProtectionError) as err:
        node.summarize(_join(base, _take(khm, np.array([late]))), period="2024", now=LATER)
    assert err.value.reason == ReasonCode.HISTORY_DISCLOSURE
    msg = str(err.value)
    assert "KHM 2024 r2: cell casualties_by_" in msg  # names the table and the cell
    assert "changed by 1 record since r1" in msg and "k = 5" in msg
    assert "publish once at least k = 5 records changed in every changed cell" in msg
    # Not even the late record's new key is kept: nothing was published.
    assert _snapshot(tmp_path / "ledger") == before
    # Each period of a run is its own unit: 2023 (a first publication) is made, 2024 is
    # refused with the same reason, and the refusal keeps nothing of 2024.
    run = node.summarize_many(
        _join(base, _take(khm, np.array([late]))), periods=["2023", "2024"], now=LATER
    )
    assert [s.period for s in run] == ["2023"]
    assert [(r.period, r.revision, r.reason) for r in run.refused] == [
        ("2024", 2, ReasonCode.HISTORY_DISCLOSURE)
    ]
    assert "KHM 2024 r2: cell " in str(run.refused[0].error)


def test_records_swapped_with_counts_unchanged_are_refused(khm, tmp_path) -> None:
    """One record withdrawn, another with the same categories arrives: every count is the
    same, but the cells' keys (and noise) change, so the cells point at the two records."""
    node, base, _ = _first(khm, tmp_path)
    row = int(np.flatnonzero(base.fields["year"] == 2024)[0])
    keep = np.ones(len(base), bool)
    keep[row] = False
    swapped = _join(_take(base, keep), _copies(base, row, 1, 2**63))
    with pytest.raises(ProtectionError, match="count unchanged") as err:
        node.summarize(swapped, period="2024", now=LATER)
    assert err.value.reason == ReasonCode.HISTORY_DISCLOSURE


def test_a_revision_with_k_records_in_every_changed_cell_is_published(khm, tmp_path) -> None:
    node, base, late = _first(khm, tmp_path)
    # Five late records with the same categories: each cell holds all five or none.
    revised = _join(base, _copies(khm, late, 5, 2**63))
    second = node.summarize(revised, period="2024", now=LATER, rng=Random(2))
    assert second.revision == 2
    node.sign(second, SIGNER)
    assert node.ledger is not None and node.ledger.latest("KHM", "2024") is not None
    assert node.ledger.latest("KHM", "2024").summary == second  # type: ignore[union-attr]
    # Its true cells are kept privately for the next revision, owner-only.
    kept = tmp_path / "ledger" / CKM_CELLS_FOLDER / f"{summary_digest(second)[7:]}.bin"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    # Four more of the kind is a change of 4 against revision 2: refused.
    with pytest.raises(ProtectionError, match="changed by 4 records since r2"):
        node.summarize(
            _join(revised, _copies(khm, late, 4, 2**63 + 10)),
            period="2024",
            now=LATER + dt.timedelta(hours=1),
        )


def test_an_unchanged_rerun_is_published_with_the_same_noise(khm, tmp_path) -> None:
    node, base, _ = _first(khm, tmp_path)
    assert node.ledger is not None
    first = node.ledger.latest("KHM", "2024")
    assert first is not None
    again = node.summarize(base, period="2024", now=LATER, rng=Random(3))
    assert again.revision == 2 and again.tables == first.summary.tables
    node.sign(again, SIGNER)


def test_other_periods_are_not_compared(khm, tmp_path) -> None:
    """A first publication of another period is never affected (and a year beside its
    quarters is out of this check's scope)."""
    node, base, late = _first(khm, tmp_path)
    s = node.summarize(_join(base, _take(khm, np.array([late]))), period="2023", now=LATER)
    assert s.revision == 1


def test_signing_a_revision_whose_cells_the_ledger_never_kept_is_refused(khm, tmp_path) -> None:
    """A revision made without this ledger (only its record keys) cannot be checked, and
    one made before the revision it supersedes was signed is checked when it is signed."""
    node, base, _ = _first(khm, tmp_path)
    assert node.ledger is not None
    parent = node.ledger.latest("KHM", "2024")
    assert parent is not None
    elsewhere = Node("KHM", method="ckm", record_keys=tmp_path / "ledger" / "record-keys")
    s = elsewhere.summarize(base, period="2024", now=LATER, revision=2, supersedes=parent.digest)
    with pytest.raises(ProtectionError, match="not kept in this ledger") as err:
        node.sign(s, SIGNER)
    assert err.value.reason == ReasonCode.HISTORY_DISCLOSURE


def test_signing_checks_summaries_made_before_the_earlier_one_was_signed(khm, tmp_path) -> None:
    """Two summaries of 2024 made before either was signed are both revision 1; the second
    signed is checked against the first, with the stricter of the two nodes' thresholds."""
    late = int(np.flatnonzero(khm.fields["year"] == 2024)[0])
    keep = np.ones(len(khm), bool)
    keep[late] = False
    base = _take(khm, keep)
    node = Node("KHM", method="ckm", k=10, ledger=tmp_path / "ledger")
    first = node.summarize(base, period="2024", now=NOW, rng=Random(1))
    plus_one = node.summarize(_join(base, _take(khm, np.array([late]))), period="2024", now=NOW)
    plus_six = node.summarize(_join(base, _copies(khm, late, 6, 2**63)), period="2024", now=NOW)
    assert first.revision == plus_one.revision == plus_six.revision == 1
    node.sign(first, SIGNER)
    with pytest.raises(ProtectionError, match="changed by 1 record since r1") as err:
        node.sign(plus_one, SIGNER)
    assert err.value.reason == ReasonCode.HISTORY_DISCLOSURE
    # Six is enough for a signer with k = 5, not for the k = 10 the summary was made with.
    signer = Node("KHM", ledger=tmp_path / "ledger")
    with pytest.raises(ProtectionError, match="changed by 6 records since r1"):
        signer.sign(plus_six, SIGNER)
    assert node.ledger is not None and len(node.ledger.entries("KHM")) == 1


def test_a_period_keeps_the_method_it_was_published_with(khm, tmp_path) -> None:
    """Suppressed exact cells beside noisy cells of the same records reveal the noise (and
    the noisy ones narrow what was suppressed): switching method within a period is refused
    at signing, both ways, and nothing is added to the ledger."""
    node, base, _ = _first(khm, tmp_path)
    exact = Node("KHM", ledger=tmp_path / "ledger")
    revision = exact.summarize(base, period="2024", now=LATER)
    with pytest.raises(ProtectionError, match="published with the cell key method") as err:
        exact.sign(revision, SIGNER)
    assert err.value.reason == ReasonCode.HISTORY_DISCLOSURE
    assert node.ledger is not None and len(node.ledger.entries("KHM")) == 1

    other = tmp_path / "other"
    suppressing = Node("KHM", ledger=other)
    suppressing.sign(suppressing.summarize(base, period="2024", now=NOW), SIGNER)
    noisy = Node("KHM", method="ckm", ledger=other)
    with pytest.raises(ProtectionError, match="published with suppression"):
        noisy.sign(noisy.summarize(base, period="2024", now=LATER, rng=Random(4)), SIGNER)
    assert suppressing.ledger is not None and len(suppressing.ledger.entries("KHM")) == 1
