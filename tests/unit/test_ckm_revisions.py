"""CKM revisions at the node: sticky noise over the ledger.

A cell keeps the number it was published with until at least k records changed in it since
that number was drawn; then it is redrawn from today's records. Nothing is refused for a
small change: the unchanged number says "fewer than k changed", which includes none.
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
from vanfed.anonymize import DEFAULT_TABLES, build_ptable, cell_keys
from vanfed.anonymize._ckm_revisions import (
    CKM_CELLS_FOLDER,
    DOWN,
    FROZEN,
    SECONDARY,
    UP,
    CkmCells,
    summary_digest,
)
from vanfed.anonymize._tables import select_period
from vanfed.errors import InputError, ProtectionError, ReasonCode
from vanfed.ingest import CodedRecords, ingest
from vanfed.schema import Summary, load_codebook, load_mapping
from vanfed.synthetic import write_export
from vanfed.testing import NOW, seeded

SIGNER = seeded("node-KHM")
LATER = NOW + dt.timedelta(hours=1)
K, D = 5, 5


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


def _first(khm: CodedRecords, tmp_path: Path) -> tuple[Node, CodedRecords, int, Summary]:
    """A node whose ledger holds revision 1 of 2024 without one 2024 record (the late one)."""
    late = int(np.flatnonzero(khm.fields["year"] == 2024)[0])
    keep = np.ones(len(khm), bool)
    keep[late] = False
    node = Node("KHM", method="ckm", ledger=tmp_path / "ledger")
    base = _take(khm, keep)
    first = node.summarize(base, period="2024", now=NOW, rng=Random(1))
    node.sign(first, SIGNER)
    return node, base, late, first


def _values(s: Summary) -> dict[str, np.ndarray]:
    return {t.name: np.array(t.values) for t in s.tables}


def _truth(records: CodedRecords, period: str = "2024") -> dict[str, np.ndarray]:
    from vanfed.anonymize import build_cube

    cb = load_codebook()
    mask = select_period(records, period)
    return {s.name: build_cube(records, s, cb, mask).values.ravel() for s in DEFAULT_TABLES}


def _kept(node: Node, summary: Summary) -> dict[str, np.ndarray]:
    assert node.ledger is not None
    state = CkmCells(node.ledger.folder / CKM_CELLS_FOLDER).load(summary)
    assert state is not None
    return {t.name: t.kind for t in state.tables}


def test_one_late_record_republishes_every_number(khm, tmp_path) -> None:
    """The late record changes its cells by 1: each keeps its number, and the revision is
    published (the rule as landed refused it)."""
    node, base, late, first = _first(khm, tmp_path)
    revised = _join(base, _take(khm, np.array([late])))
    second = node.summarize(revised, period="2024", now=LATER, rng=Random(2))
    assert second.revision == 2 and second.tables == first.tables
    truth = _truth(revised)
    moved = sum(int((truth[n] != _truth(base)[n]).sum()) for n in truth)
    assert moved >= len(DEFAULT_TABLES)  # the record is in a cell of every table it fits
    assert all((kind == FROZEN).all() for kind in _kept(node, second).values())
    node.sign(second, SIGNER)


def test_k_late_records_redraw_their_cells_and_move_their_anchor(khm, tmp_path) -> None:
    node, base, late, first = _first(khm, tmp_path)
    five = _join(base, _copies(khm, late, 5, 2**63))
    second = node.summarize(five, period="2024", now=LATER, rng=Random(2))
    node.sign(second, SIGNER)
    before, after = _truth(base), _truth(five)
    ptable = build_ptable(node.ckm)
    assert node.record_keys is not None
    keys = np.concatenate(
        [
            cell_keys(
                five, spec, load_codebook(), _record_keys(node, five), select_period(five, "2024")
            ).ravel()
            for spec in DEFAULT_TABLES
        ]
    )
    fresh = ptable.perturb(np.concatenate([after[s.name] for s in DEFAULT_TABLES]), keys)
    old, new = _values(first), _values(second)
    kinds = _kept(node, second)
    at = 0
    for spec in DEFAULT_TABLES:
        name = spec.name
        changed = np.abs(after[name] - before[name])
        size = changed.size
        redrawn = (kinds[name] == UP) | (kinds[name] == DOWN)
        # Every cell the five records joined moved by 5 and was redrawn from today's
        # records (unless a redraw would pin another cell); the others kept their number.
        assert set(np.flatnonzero(redrawn)) <= set(np.flatnonzero(changed >= K))
        assert np.array_equal(new[name][~redrawn], old[name][~redrawn])
        assert np.array_equal(new[name][redrawn], fresh[at : at + size][redrawn])
        at += size
    assert sum(int(((k == UP) | (k == DOWN)).sum()) for k in kinds.values()) > 0
    # Four more of the kind: 4 since the new anchor, so those cells keep r2's numbers.
    nine = _join(five, _copies(khm, late, 4, 2**63 + 10))
    third = node.summarize(nine, period="2024", now=LATER + dt.timedelta(hours=1))
    assert third.tables == second.tables


def _record_keys(node: Node, records: CodedRecords) -> np.ndarray:
    from vanfed.anonymize import RecordKeys

    assert node.record_keys is not None and records.ids is not None
    return RecordKeys(node.record_keys).keys_for(records.ids, save=False)


def test_small_changes_add_up_against_the_anchor(khm, tmp_path) -> None:
    """Three late records, then three more: 3 since the anchor (kept), then 6 (redrawn)."""
    node, base, late, first = _first(khm, tmp_path)
    three = _join(base, _copies(khm, late, 3, 2**63))
    second = node.summarize(three, period="2024", now=LATER, rng=Random(2))
    assert second.tables == first.tables
    node.sign(second, SIGNER)
    six = _join(three, _copies(khm, late, 3, 2**63 + 10))
    third = node.summarize(six, period="2024", now=LATER + dt.timedelta(hours=1))
    kinds = _kept(node, third)
    assert any(((k == UP) | (k == DOWN)).any() for k in kinds.values())


def test_records_swapped_at_an_unchanged_count_keep_their_numbers(khm, tmp_path) -> None:
    """One record withdrawn, another with the same categories arrives: every count is the
    same, so every cell keeps its number (the rule as landed refused this)."""
    node, base, _, first = _first(khm, tmp_path)
    row = int(np.flatnonzero(base.fields["year"] == 2024)[0])
    keep = np.ones(len(base), bool)
    keep[row] = False
    swapped = _join(_take(base, keep), _copies(base, row, 1, 2**63))
    second = node.summarize(swapped, period="2024", now=LATER)
    assert second.tables == first.tables


def test_published_numbers_stay_within_d_plus_k_minus_1(khm, tmp_path) -> None:
    """However records drift, a number is at most D + k − 1 from the truth (unless the audit
    froze it to protect another cell's change), never 1 … js."""
    node, base, _, _ = _first(khm, tmp_path)
    in_2024 = np.flatnonzero(base.fields["year"] == 2024)
    records, clock = base, LATER
    rng = np.random.default_rng(3)
    for step in range(4):
        rows = rng.choice(in_2024, 3)
        records = _join(
            records, _take(base, rows, np.arange(3, dtype=np.uint64) + 2**62 + 8 * step)
        )
        clock += dt.timedelta(hours=1)
        s = node.summarize(records, period="2024", now=clock, rng=Random(step))
        node.sign(s, SIGNER)
        truth = _truth(records)
        kinds = _kept(node, s)
        for name, values in _values(s).items():
            primary = kinds[name] != SECONDARY  # frozen to protect another cell: rare
            assert (np.abs(values - truth[name])[primary] <= D + K - 1).all()
            assert not ((values >= 1) & (values <= 4)).any()


def test_a_refused_run_leaves_the_ledger_folder_as_it_was(khm, tmp_path) -> None:
    """A year-group rule refuses 2024-Q1 after its year: nothing of the run is kept, not
    even the new record keys of 2023."""
    node, base, late, _ = _first(khm, tmp_path)
    before = _snapshot(tmp_path / "ledger")
    revised = _join(base, _take(khm, np.array([late])))
    run = node.summarize_many(revised, periods=["2023", "2024-Q1"], now=LATER)
    assert len(run) == 0  # a cell key method run is kept whole or not at all
    assert [(r.period, r.reason) for r in run.refused] == [
        ("2023", ReasonCode.HISTORY_DISCLOSURE),
        ("2024-Q1", ReasonCode.HISTORY_DISCLOSURE),
    ]
    assert "2024 r1 was published before this quarter" in str(run.refused[1].error)
    assert _snapshot(tmp_path / "ledger") == before


def test_an_unchanged_rerun_is_published_with_the_same_noise(khm, tmp_path) -> None:
    node, base, _, first = _first(khm, tmp_path)
    again = node.summarize(base, period="2024", now=LATER, rng=Random(3))
    assert again.revision == 2 and again.tables == first.tables
    node.sign(again, SIGNER)
    kept = tmp_path / "ledger" / CKM_CELLS_FOLDER / f"{summary_digest(again)[7:]}.bin"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600


def test_other_years_are_not_compared(khm, tmp_path) -> None:
    node, base, late, _ = _first(khm, tmp_path)
    s = node.summarize(_join(base, _take(khm, np.array([late]))), period="2023", now=LATER)
    assert s.revision == 1


def test_signing_a_revision_whose_cells_the_ledger_never_kept_is_refused(khm, tmp_path) -> None:
    node, base, _, _ = _first(khm, tmp_path)
    assert node.ledger is not None
    parent = node.ledger.latest("KHM", "2024")
    assert parent is not None
    elsewhere = Node("KHM", method="ckm", record_keys=tmp_path / "ledger" / "record-keys")
    s = elsewhere.summarize(base, period="2024", now=LATER, revision=2, supersedes=parent.digest)
    with pytest.raises(ProtectionError, match="not kept in this ledger") as err:
        node.sign(s, SIGNER)
    assert err.value.reason == ReasonCode.HISTORY_DISCLOSURE


def test_signing_a_summary_made_before_another_of_its_year_was_signed_is_refused(
    khm, tmp_path
) -> None:
    """Two summaries of 2024 made before either was signed are both revision 1 and anchored
    to nothing; once the first is signed, the second must be made again (its cells would not
    keep the first one's numbers). A signer with a higher k refuses one made with less."""
    late = int(np.flatnonzero(khm.fields["year"] == 2024)[0])
    keep = np.ones(len(khm), bool)
    keep[late] = False
    base = _take(khm, keep)
    node = Node("KHM", method="ckm", ledger=tmp_path / "ledger")
    first = node.summarize(base, period="2024", now=NOW, rng=Random(1))
    plus_one = node.summarize(_join(base, _take(khm, np.array([late]))), period="2024", now=NOW)
    assert first.revision == plus_one.revision == 1
    node.sign(first, SIGNER)
    with pytest.raises(ProtectionError, match="2024 r1 was signed after it was made") as err:
        node.sign(plus_one, SIGNER)
    assert err.value.reason == ReasonCode.HISTORY_DISCLOSURE
    again = node.summarize(_join(base, _take(khm, np.array([late]))), period="2024", now=LATER)
    strict = Node("KHM", method="ckm", k=10, ledger=tmp_path / "ledger")
    with pytest.raises(ProtectionError, match="made with k = 5, below this node's k = 10"):
        strict.sign(again, SIGNER)
    node.sign(again, SIGNER)
    assert node.ledger is not None and len(node.ledger.entries("KHM")) == 2


def test_a_year_group_keeps_one_method(khm, tmp_path) -> None:
    """Suppressed exact cells beside noisy cells of the same records reveal the noise: a
    period, or a year and its quarters, is refused with the other method, at summarize and
    at signing, both ways, and nothing is added to the ledger."""
    node, base, _, _ = _first(khm, tmp_path)
    exact = Node("KHM", ledger=tmp_path / "ledger")
    for period in ("2024", "2024-Q3"):
        with pytest.raises(ProtectionError, match="published with the cell key method") as err:
            exact.summarize(base, period=period, now=LATER)
        assert err.value.reason == ReasonCode.HISTORY_DISCLOSURE
    made_elsewhere = Node("KHM").summarize(base, period="2024-Q3", now=LATER)
    with pytest.raises(ProtectionError, match="publish it with the cell key method"):
        exact.sign(made_elsewhere, SIGNER)
    assert node.ledger is not None and len(node.ledger.entries("KHM")) == 1

    other = tmp_path / "other"
    suppressing = Node("KHM", ledger=other)
    suppressing.sign(suppressing.summarize(base, period="2024-Q1", now=NOW), SIGNER)
    noisy = Node("KHM", method="ckm", ledger=other)
    with pytest.raises(ProtectionError, match="2024-Q1 r1 was published with suppression"):
        noisy.summarize(base, period="2024", now=LATER, rng=Random(4))
    unchecked = Node("KHM", method="ckm", record_keys=tmp_path / "keys")
    with pytest.raises(ProtectionError, match="publish it with suppression"):
        noisy.sign(unchecked.summarize(base, period="2024", now=LATER), SIGNER)
    assert suppressing.ledger is not None and len(suppressing.ledger.entries("KHM")) == 1


def test_kept_cells_are_checked_and_old_files_still_read(khm, tmp_path) -> None:
    node, base, late, first = _first(khm, tmp_path)
    path = tmp_path / "ledger" / CKM_CELLS_FOLDER / f"{summary_digest(first)[7:]}.bin"
    data = bytearray(path.read_bytes())
    data[40] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="damaged"):
        node.summarize(base, period="2024", now=LATER)
    # A file of format 1 (counts and keys, before sticky noise): its cells as drawn fresh.
    assert node.ledger is not None
    _write_v1(path, first, base)
    second = node.summarize(_join(base, _take(khm, np.array([late]))), period="2024", now=LATER)
    assert second.tables == first.tables


def _write_v1(path: Path, summary: Summary, records: CodedRecords) -> None:
    """What the node wrote before sticky noise: counts and keys per table."""
    import hashlib
    import struct

    from vanfed._json import canonical_bytes
    from vanfed.anonymize import build_cube

    cb = load_codebook()
    mask = select_period(records, summary.period)
    assert records.ids is not None
    header = canonical_bytes(
        {
            "summary": summary_digest(summary),
            "country": summary.country,
            "period": summary.period,
            "revision": summary.revision,
            "k": 5,
            "tables": [
                {
                    "name": t.name,
                    "dims": [a.dim for a in t.axes],
                    "codes": [list(a.codes) for a in t.axes],
                }
                for t in summary.tables
            ],
        }
    )
    keys = _record_keys_of(path.parent.parent, records)
    body = [b"vanfed-ckm-cells/1\n", struct.pack("<I", len(header)), header]
    for spec in DEFAULT_TABLES:
        body.append(build_cube(records, spec, cb, mask).values.ravel().astype("<i8").tobytes())
        body.append(cell_keys(records, spec, cb, keys, mask).ravel().astype("<u4").tobytes())
    raw = b"".join(body)
    path.write_bytes(raw + hashlib.sha256(raw).digest())


def _record_keys_of(ledger: Path, records: CodedRecords) -> np.ndarray:
    from vanfed.anonymize import RecordKeys

    assert records.ids is not None
    return RecordKeys(ledger / "record-keys").keys_for(records.ids, save=False)


def test_a_year_is_signed_after_the_quarters_of_its_run(khm, tmp_path) -> None:
    """The year of a quarters + year run repeats its quarters' new numbers: it is signed
    only once they are in the ledger."""
    node = Node("KHM", method="ckm", ledger=tmp_path / "ledger")
    run = node.summarize_many(
        khm, periods=["2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4", "2024"], now=NOW
    )
    year = run[-1]
    assert year.period == "2024"
    with pytest.raises(ProtectionError, match="not yet signed into this ledger") as err:
        node.sign(year, SIGNER)
    assert err.value.reason == ReasonCode.HISTORY_DISCLOSURE
    for quarter in run[:-1]:
        node.sign(quarter, SIGNER)
    node.sign(year, SIGNER)
    assert node.ledger is not None and len(node.ledger.entries("KHM")) == 5
