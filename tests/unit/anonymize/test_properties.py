"""Hypothesis: the invariants of protection, and an independent integer attacker."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vanfed.anonymize import build_system, interval_attack, judge, suppress
from vanfed.anonymize._perturb import PerturbationLP
from vanfed.testing import cube_from_records, make_cube, with_margins


@st.composite
def linked_tables(draw: st.DrawFn):
    ndim = draw(st.integers(2, 4))
    sizes = {f"d{i}": draw(st.integers(2, 3)) for i in range(ndim)}
    n = draw(st.integers(1, 60))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    # skewed codes make sparse, small counts
    records = {d: np.minimum(rng.geometric(0.5, n) - 1, s - 1) for d, s in sizes.items()}
    dims = tuple(sizes)
    cubes = [cube_from_records(records, sizes, dims[: min(3, ndim)], "main")]
    if draw(st.booleans()) and ndim >= 3:
        cubes.append(cube_from_records(records, sizes, (dims[1], dims[-1]), "linked"))
    return cubes


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(linked_tables(), st.integers(2, 5))
def test_protection_invariants(cubes, k: int) -> None:
    system = build_system(cubes)
    values = system.gather(cubes)
    mask, audit = suppress(system, values, k=k, s=k)
    published = values[~mask]
    assert not ((published > 0) & (published < k)).any()
    primary = (values > 0) & (values < k)
    lo, hi = interval_attack(system, values, mask)  # exact, not just witnessed
    assert (hi[primary] - lo[primary] >= k - 1e-6).all()
    assert audit.passed
    # an independent re-run of the attack on the publication agrees
    again = judge(system, np.where(mask, -1, values), mask, k=k, s=k)
    assert again.passed
    mask2, _ = suppress(system, values, k=k, s=k)
    assert (mask == mask2).all()  # deterministic


def integer_ranges(
    interior: np.ndarray, published: np.ndarray, reach: int = 0
) -> dict[tuple, tuple[int, int]]:
    """Every non-negative integer 2-D table consistent with what is published, row by row.

    A published grand total bounds every cell. A hidden one does not: cells are then tried
    up to the true total plus ``reach`` (a protection ``s`` wide needs no more than ``s``
    above it), so a range found at least ``reach`` wide is not cut short by the search."""
    full = with_margins(interior)
    total = int(full[-1, -1]) + (0 if published[-1, -1] else reach)
    rows = []
    for r in range(interior.shape[0]):
        free = [c for c in range(interior.shape[1]) if not published[r, c]]
        options = []
        for guess in itertools.product(range(total + 1), repeat=len(free)):
            row = interior[r].copy()
            row[free] = guess
            if published[r, -1] and row.sum() != full[r, -1]:
                continue
            options.append(row)
        rows.append(options)
    if np.prod([len(o) for o in rows]) > 2_000_000:
        pytest.skip("too many candidate tables for the brute force")
    ranges: dict[tuple, list[int]] = {}
    for choice in itertools.product(*rows):
        t_full = with_margins(np.array(choice))
        if (t_full[published] == full[published]).all():
            for ix in zip(*np.nonzero(~published), strict=True):
                lo, hi = ranges.setdefault(ix, [10**9, -1])
                ranges[ix] = [min(lo, t_full[ix]), max(hi, t_full[ix])]
    return {ix: (lo, hi) for ix, (lo, hi) in ranges.items()}


@pytest.mark.parametrize("seed", range(16))
def test_lp_intervals_contain_every_integer_table(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = (2, 3) if seed % 2 else (3, 2)
    interior = rng.integers(0, 5, shape) * (rng.random(shape) < 0.7)
    cube = make_cube(interior)
    system = build_system([cube])
    values = system.gather([cube])
    mask, _ = suppress(system, values, k=4, s=4)
    exact_lo, exact_hi = interval_attack(system, values, mask)
    ids = system.cell_var[0]
    published = ~mask[ids]
    if published[tuple(slice(0, n) for n in shape)].all():
        return
    ranges = integer_ranges(interior, published)
    for ix, (lo, hi) in ranges.items():
        assert exact_lo[ids[ix]] - 1e-6 <= lo and hi <= exact_hi[ids[ix]] + 1e-6
        value = with_margins(interior)[ix]
        if 0 < value < 4:
            assert lo < hi, f"primary cell {ix} = {value} pinned by integer reasoning"


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(linked_tables(), st.integers(0, 2**32 - 1))
def test_release_exact_check_is_the_interval_attack(cubes, seed: int) -> None:
    """The release pass decides a cell by how far the perturbation LP over the hidden cells
    moves it: that must be the interval attack's exact range, for any hidden set."""
    system = build_system(cubes)
    values = system.gather(cubes)
    hidden = np.random.default_rng(seed).random(system.size) < 0.5
    if not hidden.any():
        return
    lo, hi = interval_attack(system, values, hidden)
    lp = PerturbationLP(system, values, np.flatnonzero(hidden), np.ones(system.size))
    for t in np.flatnonzero(hidden):
        down, up, extremes = lp.extent(int(t))
        assert values[t] - down == pytest.approx(lo[t], abs=1e-6)
        assert (
            values[t] + up == pytest.approx(hi[t], abs=1e-6) if np.isfinite(hi[t]) else up == np.inf
        )
        for cells, y in extremes:  # each extreme is a table the attacker cannot rule out
            change = np.zeros(system.size)
            change[cells] = y
            assert np.abs(system.matrix @ change).max(initial=0) <= 1e-6
            assert (values + change >= -1e-6).all() and hidden[cells].all()
