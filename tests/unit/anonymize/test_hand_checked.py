"""Small tables whose safe patterns and intervals were worked out by hand."""

from __future__ import annotations

import numpy as np

from vanfed.anonymize import build_system, interval_attack, judge, suppress
from vanfed.anonymize._cube import AxisSpec, Cube, TableSpec, axis_codes
from vanfed.schema import load_codebook
from vanfed.testing import make_cube


def protect_one(cube: Cube, k: int = 5, s: int = 5):
    system = build_system([cube])
    values = system.gather([cube])
    mask, audit = suppress(system, values, k=k, s=s)
    assert audit.passed
    lo, hi = interval_attack(system, values, mask)  # exact intervals
    ids = system.cell_var[0]
    return mask[ids], lo[ids], hi[ids]


def test_2x2_with_totals_needs_the_whole_interior() -> None:
    # | 2 8 |10      x00 is 2 < 5. Any safe pattern needs a cycle through all four
    # | 7 9 |16      interior cells; then x00 + x01 = 10, x00 + x10 = 9,
    #   9 17 26      x10 + x11 = 16 give x00 ∈ [0, 9].
    mask, lo, hi = protect_one(make_cube([[2, 8], [7, 9]]))
    assert mask.astype(int).tolist() == [[1, 1, 0], [1, 1, 0], [0, 0, 0]]
    assert (lo[:2, :2].tolist(), hi[:2, :2].tolist()) == ([[0, 1], [0, 7]], [[9, 10], [9, 16]])


def test_3x3_one_cycle_protects_both_small_cells() -> None:
    # | 1 6 8 |15   primaries 1 and 2 share the rectangle {1, 6, 9, 2}:
    # | 9 2 7 |18   x00 + x01 = 7, x10 + x11 = 11, x00 + x10 = 10, x01 + x11 = 8
    # | 5 6 10|21   ⇒ x00 ∈ [0,7], x01 ∈ [0,7], x10 ∈ [3,10], x11 ∈ [1,8]
    mask, lo, hi = protect_one(make_cube([[1, 6, 8], [9, 2, 7], [5, 6, 10]]))
    expected = np.zeros((4, 4), int)
    expected[:2, :2] = 1
    assert mask.astype(int).tolist() == expected.tolist()
    assert lo[:2, :2].tolist() == [[0, 0], [3, 1]]
    assert hi[:2, :2].tolist() == [[7, 7], [10, 8]]


def test_single_small_cell_in_a_row_suppresses_its_margin_chain() -> None:
    # 1-D: | 3 0 | 3 — nothing can pair with 3 (the other cell is 0 and cannot go down):
    # the total must go too, and the interval is [0, ∞).
    mask, lo, hi = protect_one(make_cube([3, 0]))
    assert mask.tolist() == [True, False, True]
    assert lo[0] == 0 and np.isinf(hi[0])


def test_hierarchy_pairs_within_the_parent() -> None:
    # age, full hierarchy: 0-4 = 2 is primary; its cheapest partner is its sibling 5-11 = 6
    # (12-17 = 7 is larger); the subtotal child = 15 stays published: x ∈ [0, 8].
    dim = load_codebook().dimension("age")
    codes, children = axis_codes(dim, "full")
    vals = {"0-4": 2, "5-11": 6, "12-17": 7, "18-59": 20, "60+": 8, "_U": 0}
    vals["child"], vals["adult"] = 15, 28
    vals["_T"] = 43
    cube = Cube(
        TableSpec(name="age", axes=(AxisSpec(dim="age", level="full"),)),
        ("age",),
        (codes,),
        (children,),
        np.array([vals[c] for c in codes]),
    )
    mask, lo, hi = protect_one(cube)
    hidden = {c for c, m in zip(codes, mask, strict=True) if m}
    assert hidden == {"0-4", "5-11"}
    assert (lo[codes.index("0-4")], hi[codes.index("0-4")]) == (0, 8)


def test_linked_tables_are_protected_jointly() -> None:
    # A: sex × outcome; B: outcome for males only (a filter), from the same records.
    # Alone, A hides the cycle {f·killed=3, f·injured=6, m·killed=7, m·injured=9}; alone, B
    # publishes m·killed = 7, which reopens the cycle: f·killed = 10 − 7 = 3.
    a = make_cube([[3, 6], [7, 9]], dims=("sex", "outcome"), name="a")
    b = make_cube([7, 9], dims=("outcome",), name="b", filter_={"sex": "c1"})
    # cell keys line up: B's (outcome=c0) with filter sex=c1 is A's (sex=c1, outcome=c0)
    naive_a = protect_one(a)[0]
    joint = build_system([a, b])
    values = joint.gather([a, b])
    naive = np.zeros(joint.size, bool)
    naive[joint.cell_var[0][naive_a]] = True
    naive[joint.cell_var[1].ravel()] = False  # B alone has nothing below k: all published
    assert not judge(joint, values, naive, k=5, s=5).passed
    mask, audit = suppress(joint, values, k=5, s=5)
    assert audit.passed
    f_killed = joint.cell_var[0][0, 0]
    lo, hi = interval_attack(joint, values, mask)
    assert hi[f_killed] - lo[f_killed] >= 5
    assert mask[joint.cell_var[1][0]] == mask[joint.cell_var[0][1, 0]]  # one cell, one fate
