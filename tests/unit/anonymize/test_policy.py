"""Public margins and known cells: published, known to the attacker, protection inside."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from vanfed.anonymize import (
    ProtectionSettings,
    interval_attack,
    judge,
    protect,
    protect_cubes,
    protection_report,
    reaudit,
    render_protection_report,
)
from vanfed.errors import ProtectionError
from vanfed.ingest import ingest
from vanfed.schema import ProtectionPolicy, load_codebook, load_mapping
from vanfed.synthetic import PROFILES, write_export
from vanfed.testing import make_cube

from .test_properties import linked_tables

LANDMINE_MONITOR = ProtectionPolicy(
    public_margins=(("outcome",), ("sex",), ("age",), ("civilian_status",), ("device",))
)


def margin_of(key: tuple[tuple[str, str], ...]) -> frozenset[str]:
    return frozenset(d for d, _ in key)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    linked_tables(),
    st.lists(st.sets(st.sampled_from(["d0", "d1", "d2"]), max_size=2), max_size=3),
)
def test_public_margins_stay_published_and_every_cell_stays_safe(cubes, margins) -> None:
    policy = ProtectionPolicy(public_margins=tuple(tuple(sorted(m)) for m in margins))
    try:
        p = protect_cubes(cubes, ProtectionSettings(k=3, s=3, policy=policy))
    except ProtectionError:
        assume(False)  # the policy itself pins a small cell: refusing is right
        return
    values = p.system.gather(p.cubes)
    public = {frozenset(m) for m in policy.public_margins}
    for i, key in enumerate(p.system.keys):
        in_margin = [j for j, k in enumerate(p.system.keys) if margin_of(k) == margin_of(key)]
        whole_margin_safe = not ((values[in_margin] > 0) & (values[in_margin] < 3)).any()
        if margin_of(key) in public and whole_margin_safe:
            assert not p.suppressed[i], f"public cell {dict(key)} hidden"
    grand = p.system.keys.index(())
    if not 0 < values[grand] < 3:  # the grand total is public unless itself below k
        assert not p.suppressed[grand]
    # The attacker knows every published cell (public ones included): all cells safe.
    lo, hi = interval_attack(p.system, np.where(p.suppressed, -1, values), p.suppressed)
    primary = (values > 0) & (values < 3)
    assert (hi[primary] - lo[primary] >= 3 - 1e-6).all()
    assert judge(p.system, np.where(p.suppressed, -1, values), p.suppressed, k=3, s=3).passed
    if not p.suppressed[grand]:
        assert np.isfinite(hi).all()  # the published grand total bounds every cell


@pytest.mark.parametrize("country", sorted(PROFILES))
def test_landmine_monitor_margins_on_national_data(country: str, tmp_path: Path) -> None:
    cb = load_codebook()
    ex = write_export(country, tmp_path, seed=2024)
    rec = ingest(ex.path, load_mapping(ex.mapping_path), country=country, today=dt.date(2026, 1, 1))
    p = protect(rec, cb, period="2024", settings=ProtectionSettings(policy=LANDMINE_MONITOR))
    assert p.solve is not None
    values = p.system.gather(p.cubes)
    public = {frozenset(m) for m in LANDMINE_MONITOR.public_margins}
    for margin in public:
        cells = [i for i, key in enumerate(p.system.keys) if margin_of(key) == margin]
        if not ((values[cells] > 0) & (values[cells] < 5)).any():
            assert not p.suppressed[cells].any(), f"{country}: margin {set(margin)} hidden"
            assert p.solve.public[cells].all()
    assert not p.suppressed[p.system.keys.index(())]
    _, _, audit = reaudit(p.published(), cb, country, k=5, s=5)  # from the publication alone
    assert audit.passed
    assert np.isfinite(audit.hi).all()


def test_known_cells_are_published_and_a_small_one_is_still_hidden() -> None:
    # | 6 2 |8   known: (c0, c0) = 6 and (c1, c1) = 3; the first is published whatever the
    # | 7 3 |10  suppression prefers, the second is below k = 5 and stays hidden.
    cube = make_cube(np.array([[6, 2], [7, 3]]))
    known = ({"d0": "c0", "d1": "c0"}, {"d0": "c1", "d1": "c1"})
    p = protect_cubes((cube,), ProtectionSettings(policy=ProtectionPolicy(known_cells=known)))
    mask = p.suppressed[p.system.cell_var[0]]
    assert not mask[0, 0] and mask[1, 1]
    assert p.audit.passed


def test_protection_report_statuses_and_figures() -> None:
    # The 3×3 table of the hand-checked tests: primaries 1 and 2, secondaries 6 and 9, the
    # grand total public, no zeros.
    p = protect_cubes(
        (make_cube(np.array([[1, 6, 8], [9, 2, 7], [5, 6, 10]])),), ProtectionSettings()
    )
    r = protection_report(p)
    assert r.counts == {"safe": 11, "primary": 2, "secondary": 2, "public": 1, "empty": 0}
    assert (r.cells_hidden, r.value_hidden, r.unbounded) == (4, 18, 0)
    assert (r.nonzero, r.nonzero_published) == (16, 12)
    by_cell = {tuple(c.cell.values()): c for c in r.table_cells}
    assert (by_cell[("c0", "c0")].lo, by_cell[("c0", "c0")].hi) == (0, 7)
    assert by_cell[("_T", "_T")].status == "public" and by_cell[("_T", "_T")].lo is None
    assert r.method == "heuristic" and r.gap is None and r.loss == pytest.approx(4 + 18)
    text = render_protection_report(r)
    assert "d0=c0 d1=c0" in text and "[0, 7]" in text and "n/a (heuristic)" in text
