"""The cell key method: ptables, lookups, record keys, consistency and differencing."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from random import Random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vanfed.anonymize import (
    DEFAULT_TABLES,
    PTable,
    RecordKeys,
    build_cube,
    build_ptable,
    perturb,
)
from vanfed.errors import InputError
from vanfed.ingest import CodedRecords, ingest
from vanfed.schema import CkmParams, load_codebook, load_mapping
from vanfed.synthetic import write_export
from vanfed.testing import NOW

PARAMS = [
    CkmParams(max_noise=5, variance=3.0, js=4),
    CkmParams(max_noise=3, variance=1.0, js=2),
    CkmParams(max_noise=4, variance=2.0, js=1),
]
DEFAULT = PARAMS[0]


@pytest.mark.parametrize("params", PARAMS, ids=str)
def test_ptable_rows_are_distributions_with_zero_mean_and_bounded_noise(params) -> None:
    t = build_ptable(params)
    assert t.rows == params.max_noise + params.js + 2  # rows 0 … D + js + 1
    for i in range(t.rows):
        v, p = t.probabilities(i)
        assert t.upper[i][-1] == 10**8 and abs(p.sum() - 1) < 1e-12
        assert (p >= 0).all() and np.abs(v).max() <= params.max_noise
        assert abs(v @ p) < 1e-6, (i, v @ p)
        targets = i + v
        assert not ((targets >= 1) & (targets <= params.js)).any()
        assert (targets >= 0).all()
        if i > params.js:  # rows outside the block never exceed V
            assert (v**2) @ p <= params.variance + 1e-6
    assert t.noise[0] == (0,)  # zeros stay zero


@pytest.mark.parametrize("params", PARAMS, ids=str)
def test_symmetric_row_is_the_maximum_entropy_distribution_of_variance_v(params) -> None:
    """Known answer: with mean 0 and variance V on -D … D, maximum entropy is
    p(v) ∝ exp(-λ v²) with λ set by the variance (found here by bisection)."""
    t = build_ptable(params)
    v, p = t.probabilities(t.rows - 1)
    assert v.tolist() == list(range(-params.max_noise, params.max_noise + 1))
    lo, hi = 0.0, 50.0
    for _ in range(200):
        lam = (lo + hi) / 2
        q = np.exp(-lam * v**2)
        q /= q.sum()
        lo, hi = (lam, hi) if (v**2) @ q > params.variance else (lo, lam)
    assert np.abs(p - q).max() < 2e-5
    assert abs((v**2) @ p - params.variance) < 1e-5


def test_ptable_is_deterministic_and_its_digest_pins_its_bytes() -> None:
    a = build_ptable(DEFAULT)
    b = build_ptable.__wrapped__(DEFAULT)  # rebuilt, not the cached one
    assert a.canonical_bytes() == b.canonical_bytes() and a.digest == b.digest
    other = build_ptable(PARAMS[1])
    assert other.digest != a.digest
    assert a.record().ptable_digest == a.digest


def test_parameters_that_admit_no_table_are_refused() -> None:
    with pytest.raises(ValueError, match="max_noise"):
        CkmParams(max_noise=3, variance=2.0, js=3)


@given(
    counts=st.lists(st.integers(0, 400), min_size=1, max_size=50),
    seed=st.integers(0, 2**32 - 1),
    which=st.integers(0, len(PARAMS) - 1),
)
def test_no_count_in_1_to_js_is_ever_published(counts, seed, which) -> None:
    params = PARAMS[which]
    t = build_ptable(params)
    n = np.array(counts, np.int64)
    keys = np.random.default_rng(seed).integers(0, 2**32, n.size)
    out = t.perturb(n, keys)
    assert not ((out >= 1) & (out <= params.js)).any()
    assert (out >= 0).all() and (np.abs(out - n) <= params.max_noise).all()
    assert (out[n == 0] == 0).all()


def test_lookup_draws_each_target_with_its_ptable_probability() -> None:
    """Cell keys spread evenly over [0, 1) give each noise exactly its probability."""
    t = build_ptable(DEFAULT)
    keys = (np.arange(200_000, dtype=np.int64) << 32) // 200_000
    for i in (1, 3, 5, 8, 10, 37):
        out = t.perturb(np.full(keys.size, i), keys) - i
        v, p = t.probabilities(min(i, t.rows - 1))
        freq = np.array([(out == x).mean() for x in v])
        assert np.abs(freq - p).max() < 2e-5
        assert abs(out.mean()) < 1e-3


def test_record_keys_persist_new_records_get_new_keys(tmp_path: Path) -> None:
    store = RecordKeys(tmp_path / "keys")
    ids = np.array([5, 1, 9, 1], np.uint64)
    k1 = store.keys_for(ids, rng=Random(1))
    assert k1[1] == k1[3] and len(store) == 3
    again = RecordKeys(tmp_path / "keys")  # reopened from disk
    k2 = again.keys_for(np.array([9, 5, 1, 77], np.uint64), rng=Random(2))
    assert k2[:3].tolist() == [k1[2], k1[0], k1[1]]
    assert len(again) == 4
    assert (tmp_path / "keys" / "record-keys.bin").stat().st_mode & 0o077 == 0
    raw = bytearray((tmp_path / "keys" / "record-keys.bin").read_bytes())
    raw[30] ^= 1
    (tmp_path / "keys" / "record-keys.bin").write_bytes(bytes(raw))
    with pytest.raises(InputError, match="damaged"):
        RecordKeys(tmp_path / "keys")


# --- whole tables --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def khm(tmp_path_factory: pytest.TempPathFactory) -> CodedRecords:
    ex = write_export("KHM", tmp_path_factory.mktemp("khm"), seed=5)
    return ingest(
        ex.path, load_mapping(ex.mapping_path), country="KHM", today=NOW.date(), keep_ids=True
    )


def _subset(records: CodedRecords, keep: np.ndarray) -> CodedRecords:
    assert records.ids is not None
    return dataclasses.replace(
        records, fields={k: v[keep] for k, v in records.fields.items()}, ids=records.ids[keep]
    )


def _publish(records: CodedRecords, folder: Path, period: str = "2024") -> dict[str, np.ndarray]:
    assert records.ids is not None
    keys = RecordKeys(folder).keys_for(records.ids, rng=Random(folder.name))
    done = perturb(
        records,
        load_codebook(),
        period=period,
        keys=keys,
        ptable=build_ptable(DEFAULT),
        tables=DEFAULT_TABLES,
    )
    return {c.spec.name: v for c, v in zip(done.cubes, done.published_values, strict=True)}


def test_same_records_give_the_same_count_in_every_table_and_revision(khm, tmp_path) -> None:
    pub = _publish(khm, tmp_path)
    # The killed total over everything is one set of records in three tables.
    killed = {
        pub["casualties_by_device"][-1, 0],
        pub["casualties_by_status"][-1, 0],
        pub["casualties_by_sex_age"][-1, -1, 0],
        pub["casualties_by_admin1"][-1, 0],
    }
    assert len(killed) == 1
    # A revision that reorders the records and adds a late one for another year.
    order = np.random.default_rng(0).permutation(len(khm))
    shuffled = _subset(khm, order)
    late = np.flatnonzero(khm.fields["year"] == 2023)[0]
    revision = _subset(khm, np.concatenate([order, [late]]))
    revision.ids[-1] = np.uint64(2**63 + 12345)  # a new record: a new id
    for rec in (shuffled, revision):
        again = _publish(rec, tmp_path)
        for name, values in pub.items():
            assert np.array_equal(again[name], values), name


def _ml_count(t: PTable, r1: int, r2: int, prior: range) -> int:
    """The attacker's maximum-likelihood true count n (revision 2 holds n + 1) given the
    public ptable and both published counts (independent keys: the cell key changed)."""

    def lik(n: int, r: int) -> float:
        v, p = t.probabilities(min(n, t.rows - 1))
        hit = p[(n + v) == r]
        return float(hit.sum())

    scores = [lik(n, r1) * lik(n + 1, r2) for n in prior]
    return prior[int(np.argmax(scores))]


def test_revision_differencing_does_not_reveal_the_late_records_cell(khm, tmp_path) -> None:
    """Revision 1 lacks one late record, revision 2 has it. Against suppression without
    history protection, differencing gives the exact count of the small cell the record
    joined. Against CKM the attacker, knowing the ptable and which record came late, gets
    the right count of that cell far less often, and the right difference rarely."""
    t = build_ptable(DEFAULT)
    in_2024 = np.flatnonzero(khm.fields["year"] == 2024)
    sex, age, outcome = (khm.column(d) for d in ("sex", "age", "outcome"))
    right_count = right_diff = trials = 0
    for trial in range(60):
        late = in_2024[trial * 7 % in_2024.size]
        keep = np.ones(len(khm), bool)
        keep[late] = False
        folder = tmp_path / f"t{trial}"
        r1 = _publish(_subset(khm, keep), folder)["casualties_by_sex_age"]
        r2 = _publish(khm, folder)["casualties_by_sex_age"]
        # The late record's interior cell (sex × age band × outcome) and its true count.
        cube_same = (sex == sex[late]) & (outcome == outcome[late]) & (khm.fields["year"] == 2024)
        if age[late] < 0:
            cube_same &= age < 0
        else:
            cube_same &= (age >= 18) if age[late] >= 18 else (age >= 0) & (age < 18)
        n_true = int(cube_same.sum())  # revision 2
        if n_true > 12:
            continue  # the attack targets small cells
        diff = (r2 - r1)[:-1, :-1, :-1]  # interior cells: one holds the late record
        cell = np.unravel_index(np.argmax(np.abs(diff)), diff.shape) if diff.any() else None
        trials += 1
        if cell is None:
            continue
        right_diff += int(diff[cell] == 1)
        guess = _ml_count(t, int(r1[:-1, :-1, :-1][cell]), int(r2[:-1, :-1, :-1][cell]), range(40))
        guess += 1
        right_count += int(guess == n_true)
    assert trials >= 20
    print(f"differencing: count right {right_count}/{trials}, difference right {right_diff}")
    # Suppression without history protection: the attacker is right every time (1.0).
    assert right_count / trials < 0.6, (right_count, trials)
    assert right_diff / trials < 0.5, (right_diff, trials)


def test_a_year_minus_three_quarters_does_not_give_the_fourth(khm, tmp_path) -> None:
    """With exact counts Y - Q1 - Q2 - Q3 = Q4 always; with CKM the small Q4 counts (1 … js,
    never published) come out of that difference no more often than a blind guess."""
    year = _publish(khm, tmp_path, "2024")
    quarters = [_publish(khm, tmp_path, f"2024-Q{q}") for q in range(1, 5)]
    cb = load_codebook()
    mask = (khm.fields["year"] == 2024) & (khm.fields["quarter"] == 4)
    right = small = 0
    for spec in DEFAULT_TABLES:
        true_q4 = build_cube(khm, spec, cb, mask).values
        est = year[spec.name] - sum(quarters[i][spec.name] for i in range(3))
        hit = (true_q4 >= 1) & (true_q4 <= DEFAULT.js)
        small += int(hit.sum())
        right += int((est[hit] == true_q4[hit]).sum())
        assert not (quarters[3][spec.name][hit] == true_q4[hit]).any()  # never published
    assert small >= 30
    assert right / small < 1 / DEFAULT.js, (right, small)
