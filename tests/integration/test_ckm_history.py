"""The cell key method across a year group: each hole attacked before and after.

- **A year against its quarters**: quarters published, then the year from more records. A
  year cell with the very records one quarter's number was drawn from repeats that number
  (same records, same noise); a plain fresh draw differs exactly when records changed, so an
  attacker who compares the two finds the cells the late records joined. With sticky noise
  the year repeats its quarters' numbers until k records changed: the comparison shows the
  same with or without the late record.
- **Mixed methods**: exact quarters beside a noisy year of the same records bound the
  suppressed quarter cells to the year's noise. Refused at the node and the door.
- **A table first published in a revision**: its cells are drawn from today's records and,
  beside the period's earlier numbers of the same records, show which changed. Refused.
- **A quarter first published after its year**: refused (its year's numbers are anchored
  to quarters published before it).

Every CKM history the node makes is attacked by ``tests/ckm_attacker.py`` (integer
programming, no vanfed code), told every decision but the secondary freezes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from random import Random

import numpy as np
import pytest
from scipy.optimize import linprog
from tests.attacker import _cells, _margins
from tests.ckm_attacker import FRESH, REDRAWN, REPEATED, CkmAttacker, Seen

from vanfed import Node
from vanfed.aggregate import check_history
from vanfed.aggregate._checks import Refusal
from vanfed.anonymize import DEFAULT_TABLES, RecordKeys, build_ptable, perturb
from vanfed.anonymize._ckm_revisions import CKM_CELLS_FOLDER, DOWN, FROZEN, SECONDARY, UP, CkmCells
from vanfed.errors import ProtectionError, ReasonCode
from vanfed.ingest import CodedRecords, ingest
from vanfed.schema import CkmParams, Policy, Summary, load_codebook, load_mapping
from vanfed.signing import init_registry
from vanfed.synthetic import write_export
from vanfed.testing import NOW, Trust
from vanfed.transport import Inbox, Rejected

K, D = 5, 5
FLAG = {0: FRESH, UP: REDRAWN, DOWN: REDRAWN, FROZEN: REPEATED, SECONDARY: REPEATED}
QUARTERS = [f"2024-Q{q}" for q in (1, 2, 3, 4)]
AGREED = build_ptable(CkmParams(max_noise=5, variance=3.0, js=4)).record()


@pytest.fixture(scope="module")
def khm(tmp_path_factory: pytest.TempPathFactory) -> CodedRecords:
    ex = write_export("KHM", tmp_path_factory.mktemp("khm"), years=range(2023, 2025), seed=11)
    rec = ingest(
        ex.path, load_mapping(ex.mapping_path), country="KHM", today=NOW.date(), keep_ids=True
    )
    return rec


def _take(records: CodedRecords, keep: np.ndarray) -> CodedRecords:
    assert records.ids is not None
    return dataclasses.replace(
        records, fields={k: v[keep] for k, v in records.fields.items()}, ids=records.ids[keep]
    )


def _at(hours: int) -> dt.datetime:
    return NOW + dt.timedelta(hours=hours)


def _seen(node: Node, summaries: list[Summary]) -> list[Seen]:
    """What the independent attacker gets: the summaries and each cell's decision."""
    assert node.ledger is not None
    cells = CkmCells(node.ledger.folder / CKM_CELLS_FOLDER)
    out = []
    for s in summaries:
        state = cells.load(s)
        assert state is not None
        flags = {t.name: [FLAG[int(k)] for k in t.kind] for t in state.tables}
        parts = {t.name: t.parts for t in state.tables}
        out.append(Seen(s.period, s.created_at, s.tables, flags, parts))
    return out


def _year_group(node: Node) -> list[Summary]:
    assert node.ledger is not None
    return [e.summary for e in node.ledger.entries("KHM") if e.summary.period.startswith("2024")]


# -- a year against its quarters ----------------------------------------------------------


def _single_quarter(node: Node, quarters: list[Summary]) -> dict[str, np.ndarray]:
    """Per table, the year cells whose records (when the quarters were published) lay in at
    most one quarter: the year's number of those records is then already published (that
    quarter's number, or 0), since the same records give the same number."""
    assert node.ledger is not None
    cells = CkmCells(node.ledger.folder / CKM_CELLS_FOLDER)
    states = [cells.load(q) for q in quarters]
    out = {}
    for t in quarters[0].tables:
        counts = np.array(
            [next(s for s in st.tables if s.name == t.name).counts for st in states if st]
        )
        out[t.name] = (counts > 0).sum(axis=0) <= 1
    return out


def _counts(node: Node, s: Summary) -> dict[str, np.ndarray]:
    assert node.ledger is not None
    state = CkmCells(node.ledger.folder / CKM_CELLS_FOLDER).load(s)
    assert state is not None
    return {t.name: t.counts for t in state.tables}


def _numbers(s: Summary) -> dict[str, np.ndarray]:
    return {t.name: np.array(t.values) for t in s.tables}


def _plain_year(records: CodedRecords, node: Node) -> dict[str, np.ndarray]:
    """The year as a fresh draw from today's records would publish it (no anchors)."""
    assert node.record_keys is not None and records.ids is not None
    keys = RecordKeys(node.record_keys).keys_for(records.ids, save=False)
    done = perturb(
        records, load_codebook(), period="2024", keys=keys, ptable=build_ptable(node.ckm),
        tables=DEFAULT_TABLES,
    )  # fmt: skip
    return {t.name: np.array(t.values) for t in done.published()}


def test_a_year_after_its_quarters_shows_no_late_record(khm, tmp_path) -> None:
    """Quarters published without one late record, then the year with it. Where the year's
    records lay in one quarter, the number of the same records is public; a plain fresh draw
    of the year shows another number exactly where the late record is, so
    the attacker sees which cells it joined (here in 4 of the 9 trials where the record is
    in such a cell: small counts often draw 0 either way). The node's sticky year shows the same numbers
    there with the late record as without it, in every trial."""
    in_2024 = np.flatnonzero(khm.fields["year"] == 2024)
    plain_signal = trials = 0
    for trial, late in enumerate(in_2024[:: max(1, in_2024.size // 10)][:10]):
        keep = np.ones(len(khm), bool)
        keep[late] = False
        node = Node("KHM", method="ckm", ledger=tmp_path / f"l{trial}")
        early = _take(khm, keep)
        quarters = node.summarize_many(early, periods=QUARTERS, now=_at(1), rng=Random(trial))
        for q in quarters:
            node.sign(q, _signer())
        with_late = node.summarize(khm, period="2024", now=_at(2), rng=Random(1))
        without = node.summarize(early, period="2024", now=_at(2), rng=Random(1))
        one = _single_quarter(node, quarters)
        sticky_with, sticky_without = _numbers(with_late), _numbers(without)
        plain_with, plain_without = _plain_year(khm, node), _plain_year(early, node)
        joined = _counts(node, with_late)
        before = _counts(node, without)
        shown = hit = False
        for name, single in one.items():
            assert np.array_equal(sticky_with[name][single], sticky_without[name][single])
            assert np.array_equal(plain_without[name][single], sticky_without[name][single])
            moved = single & (joined[name] != before[name])  # where the late record is
            hit |= bool(moved.any())
            shown |= bool((plain_with[name][moved] != plain_without[name][moved]).any())
        plain_signal += shown
        trials += hit
        # Everything published about 2024 stands up to the independent attacker.
        node.sign(with_late, _signer())
        seen = _seen(node, _year_group(node))
        assert CkmAttacker(seen, k=K, noise=D).pinned() == [], trial
    # A fresh draw of 1 … 4 records often shows 0 either way, so not every trial shows it.
    assert trials >= 8 and plain_signal >= 3, (plain_signal, trials)


def _signer():
    from vanfed.testing import seeded

    return seeded("node-KHM")


def test_quarters_and_year_revised_together_stand_up_to_the_attacker(khm, tmp_path) -> None:
    """The project's quarters + year schedule for one year: quarters r1 at 80 % one by one,
    then quarters r2 with year r1 at 90 %, then quarters r3 with year r2 at 100 %; nothing
    is refused and the attacker pins no change across the 14 publications."""
    rank = np.random.default_rng(0).random(len(khm))
    node = Node("KHM", method="ckm", ledger=tmp_path / "ledger")
    hour = 0
    for q in QUARTERS:
        hour += 1
        for s in node.summarize_many(_take(khm, rank < 0.8), periods=[q], now=_at(hour)):
            node.sign(s, _signer())
    for share in (0.9, 1.0):
        hour += 1
        run = node.summarize_many(
            _take(khm, rank < share), periods=[*QUARTERS, "2024"], now=_at(hour)
        )
        for s in run:
            node.sign(s, _signer())
    group = _year_group(node)
    assert len(group) == 14
    assert CkmAttacker(_seen(node, group), k=K, noise=D).pinned() == []


# -- mixed methods ------------------------------------------------------------------------


def _noisy_bounds_exposures(quarters: list[Summary], year: Summary, noise: int, s: int) -> list:
    """Suppressed quarter cells that the year's noisy numbers narrow below ``s`` (LP over
    non-negative quarter tables of one snapshot: exact quarter cells, year = Σ quarters
    within the noise); stops at the first."""
    keys: dict = {}
    for q in quarters:
        for t in q.tables:
            for key, _ in _cells(t):
                keys.setdefault((q.period, key), len(keys))
    eq: list[dict[int, float]] = []
    b_eq: list[float] = []
    ub: list[dict[int, float]] = []
    b_ub: list[float] = []
    for q in quarters:
        for t in q.tables:
            for total, kids in _margins(t):
                row = {keys[(q.period, total)]: -1.0}
                for kid in kids:
                    row[keys[(q.period, kid)]] = row.get(keys[(q.period, kid)], 0.0) + 1.0
                eq.append(row)
                b_eq.append(0.0)
            eq += [{keys[(q.period, k)]: 1.0} for k, v in _cells(t) if v is not None]
            b_eq += [float(v) for _, v in _cells(t) if v is not None]
    for t in year.tables:
        for key, v in _cells(t):
            row = {keys[(q.period, key)]: 1.0 for q in quarters}
            lo, hi = (max(v - noise, 1), v + noise) if v else (0, noise)
            ub += [row, {c: -1.0 for c in row}]
            b_ub += [hi, -lo]
    n = len(keys)
    a_eq, a_ub = _sparse(eq, n), _sparse(ub, n)
    hidden = {(q.period, k) for q in quarters for t in q.tables for k, v in _cells(t) if v is None}
    assert hidden
    for key in sorted(hidden, key=lambda pk: (pk[0], sorted(pk[1]))):
        c = np.zeros(n)
        c[keys[key]] = 1
        lo = linprog(c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, method="highs")
        hi = linprog(-c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, method="highs")
        assert lo.status == 0 and hi.status == 0
        if -hi.fun - lo.fun < s - 1e-6:
            return [(key, lo.fun, -hi.fun)]
    return []


def _sparse(rows: list[dict[int, float]], n: int):
    import scipy.sparse as sp

    r = [i for i, row in enumerate(rows) for _ in row]
    c = [j for row in rows for j in row]
    v = [w for row in rows for w in row.values()]
    return sp.csr_matrix((v, (r, c)), shape=(len(rows), n))


def test_a_noisy_year_beside_suppressed_quarters_is_refused(khm, tmp_path, trust) -> None:
    """Quarters suppressed (k = s = 5) and the year with CKM of noise D = 2 in the same run:
    the year's noisy numbers bound the suppressed quarter cells closer than s. The node
    refuses the year (before any work and when signing) and so does the door."""
    suppress = Node("KHM", ledger=tmp_path / "ledger")
    quarters = suppress.summarize_many(khm, periods=QUARTERS, now=_at(1))
    small = CkmParams(max_noise=2, variance=1.0, js=1)
    elsewhere = Node("KHM", method="ckm", ckm=small, record_keys=tmp_path / "keys")
    year = elsewhere.summarize(khm, period="2024", now=_at(1))
    assert _noisy_bounds_exposures(quarters, year, noise=2, s=5)  # the hole
    for q in quarters:
        suppress.sign(q, _signer())
    noisy = Node("KHM", method="ckm", ckm=small, ledger=tmp_path / "ledger")
    with pytest.raises(ProtectionError, match="2024-Q1 r1 was published with suppression") as err:
        noisy.summarize(khm, period="2024", now=_at(2))
    assert err.value.reason == ReasonCode.HISTORY_DISCLOSURE
    with pytest.raises(ProtectionError, match="publish it with suppression"):
        noisy.sign(year, _signer())
    with pytest.raises(Refusal, match="publish it with suppression") as refusal:
        check_history(year, quarters, load_codebook())
    assert refusal.value.reason == ReasonCode.HISTORY_DISCLOSURE


# -- a table first published in a revision ------------------------------------------------


def test_a_table_new_in_a_revision_is_refused(khm, tmp_path) -> None:
    """r1 publishes no device table; every 2024 casualty killed is made a cluster munition
    one, so (device = cmr, killed) holds exactly the records of 'killed'. One late killed
    casualty arrives; r2 keeps 'killed' at r1's number (one record is below k) while a
    device table drawn from today's records shows (cmr, killed) at another number: the
    attacker learns that 'killed' changed. The node refuses the new table."""
    killed = load_codebook().dimension("outcome", "KHM").leaves().index("killed")
    cmr = khm.codes["device"].index("cmr")
    is_2024 = khm.fields["year"] == 2024
    fields = dict(khm.fields)
    fields["device"] = np.where(
        is_2024 & (khm.fields["outcome"] == killed), cmr, khm.fields["device"]
    )
    rec = dataclasses.replace(khm, fields=fields)
    without_device = tuple(s for s in DEFAULT_TABLES if s.name != "casualties_by_device")
    late_rows = np.flatnonzero(is_2024 & (rec.fields["outcome"] == killed))
    signal = 0
    for trial, late in enumerate(late_rows[:8]):
        keep = np.ones(len(rec), bool)
        keep[late] = False
        node = Node("KHM", method="ckm", tables=without_device, ledger=tmp_path / f"l{trial}")
        first = node.summarize(_take(rec, keep), period="2024", now=_at(1), rng=Random(trial))
        node.sign(first, _signer())
        full = Node("KHM", method="ckm", ledger=tmp_path / f"l{trial}")
        with pytest.raises(
            ProtectionError, match="table casualties_by_device is new since 2024 r1"
        ):
            full.summarize(rec, period="2024", now=_at(2))
        if trial == 0:  # made elsewhere and sent: the door refuses it from the log
            keys_only = Node(
                "KHM", method="ckm", record_keys=tmp_path / f"l{trial}" / "record-keys"
            )
            second = keys_only.summarize(rec, period="2024", now=_at(2), revision=2,
                                         supersedes="sha256:" + "0" * 64)  # fmt: skip
            with pytest.raises(Refusal, match="table casualties_by_device is new since 2024 r1"):
                check_history(second, [first], load_codebook())
        # What a fresh draw of the new table would show against r1's 'killed'.
        assert node.record_keys is not None and rec.ids is not None
        keys = RecordKeys(node.record_keys).keys_for(rec.ids, save=False)
        done = perturb(rec, load_codebook(), period="2024", keys=keys,
                       ptable=build_ptable(node.ckm), tables=DEFAULT_TABLES)  # fmt: skip
        device = done.published()[[s.name for s in DEFAULT_TABLES].index("casualties_by_device")]
        values = np.array(device.values).reshape(device.shape)
        killed_total = np.array(first.table("casualties_by_status").values).reshape(-1, 4)[-1, 0]
        signal += int(values[cmr_index(device), 0] != killed_total)
        # Without the late record the two are the same records, so the same number.
        done = perturb(_take(rec, keep), load_codebook(), period="2024", keys=keys[keep],
                       ptable=build_ptable(node.ckm), tables=DEFAULT_TABLES)  # fmt: skip
        device = done.published()[[s.name for s in DEFAULT_TABLES].index("casualties_by_device")]
        same = np.array(device.values).reshape(device.shape)[cmr_index(device), 0]
        assert same == killed_total
    assert signal >= 4, signal


def cmr_index(table) -> int:
    return table.axes[0].codes.index("cmr")


# -- a quarter first published after its year ---------------------------------------------


def test_a_quarter_after_its_year_is_refused_at_the_node_and_the_door(khm, tmp_path, trust) -> None:
    node = Node("KHM", method="ckm", agreed=AGREED, ledger=tmp_path / "ledger")
    year = node.summarize(khm, period="2024", now=_at(1))
    node.sign(year, trust.nodes["KHM"])
    with pytest.raises(ProtectionError, match="publish quarters before their year") as err:
        node.summarize(khm, period="2024-Q2", now=_at(2))
    assert err.value.reason == ReasonCode.HISTORY_DISCLOSURE
    # Made without the ledger and sent: the door refuses it from the logged history.
    elsewhere = Node("KHM", method="ckm", agreed=AGREED, record_keys=tmp_path / "other")
    quarter = elsewhere.summarize(khm, period="2024-Q2", now=_at(2))
    inbox = _inbox(trust, tmp_path / "inbox")
    try:
        inbox.accept(_envelope(year, trust))
        with pytest.raises(Rejected, match="publish quarters before their year") as rejected:
            inbox.accept(_envelope(quarter, trust))
        assert rejected.value.reasons == (ReasonCode.HISTORY_DISCLOSURE,)
    finally:
        inbox.close()


def _envelope(summary: Summary, trust: Trust) -> bytes:
    from vanfed.signing import sign_summary

    return sign_summary(summary, trust.nodes["KHM"])


def _inbox(trust: Trust, folder: Path) -> Inbox:
    reg = trust.registry
    registry = init_registry(
        [], threshold=reg.root_threshold, now=NOW - dt.timedelta(days=1), keys=reg.keys,
        policy=Policy(ckm=AGREED),
    )  # fmt: skip
    return Inbox(
        folder, registry, coordinator=trust.coordinator, log_key=trust.log, now=lambda: _at(3)
    )


@pytest.mark.slow
@pytest.mark.parametrize("country", ["KHM", "LAO", "THA"])
@pytest.mark.parametrize("schedule", ["annual", "qa", "bench"])
def test_the_project_schedules_stand_up_to_the_attacker(country, schedule, tmp_path) -> None:
    """Two years of each schedule of ``bench_history_ckm.py``: nothing refused, and the
    independent attacker pins no change in either year's whole history."""
    ex = write_export(country, tmp_path / "ex", years=range(2023, 2025), seed=11)
    rec = ingest(
        ex.path, load_mapping(ex.mapping_path), country=country, today=NOW.date(), keep_ids=True
    )
    rank = np.random.default_rng(0).random(len(rec))
    node = Node(country, method="ckm", ledger=tmp_path / "ledger")
    hour = 0
    for year in (2023, 2024):
        qs = [f"{year}-Q{q}" for q in (1, 2, 3, 4)]
        runs = {
            "annual": [(s, [str(year)]) for s in (0.8, 0.9, 1.0)],
            "qa": [(0.8, [q]) for q in qs] + [(0.9, [*qs, str(year)]), (1.0, [*qs, str(year)])],
            "bench": [(s, [q]) for s in (0.8, 0.9, 1.0) for q in qs],
        }[schedule]
        for share, periods in runs:
            hour += 1
            made = node.summarize_many(
                _take(rec, rank < share), periods=periods, now=_at(hour), allow_empty=True
            )
            for s in made:
                node.sign(s, seeded_for(country))
    assert node.ledger is not None
    for year in ("2023", "2024"):
        group = [
            e.summary for e in node.ledger.entries(country) if e.summary.period.startswith(year)
        ]
        assert CkmAttacker(_seen(node, group), k=K, noise=D).pinned() == [], year


def seeded_for(country: str):
    from vanfed.testing import seeded

    return seeded(f"node-{country}")
