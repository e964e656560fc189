"""Sticky noise and its change-table audit on small hand-made linked tables.

The independent attacker (``tests/ckm_attacker.py``, integer programming, no vanfed code)
is told every decision the node took, except which repeated numbers were frozen to protect
another cell; it must never pin a change into 1 … k − 1 records.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.ckm_attacker import FRESH, REDRAWN, REPEATED, CkmAttacker, Seen

from vanfed.anonymize import AxisSpec, Cube, TableSpec, build_ptable
from vanfed.anonymize._ckm_audit import audit_changes, protect_changes
from vanfed.anonymize._ckm_revisions import DOWN, FROZEN, SECONDARY, UP
from vanfed.anonymize._ckm_sticky import CkmPub, candidate
from vanfed.anonymize._tables import published_table
from vanfed.schema import CkmParams

PTABLE = build_ptable(CkmParams(max_noise=5, variance=3.0, js=4))
K, D = 5, 5
MOD = 1 << 32
FLAG = {0: FRESH, UP: REDRAWN, DOWN: REDRAWN, FROZEN: REPEATED, SECONDARY: REPEATED}


def _axis(name: str, codes: Sequence[str]) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    return (*codes, "_T"), {"_T": tuple(codes)}


def _cubes(
    interior: np.ndarray, keys: np.ndarray, shape: Sequence[Sequence[str]]
) -> tuple[list[Cube], list[np.ndarray]]:
    """A table over ``shape``'s axes (x, y, …) with every margin, and a linked table over
    the first axis alone; cell keys add up modulo 2**32 like the records' do."""
    dims = tuple("xyz"[: len(shape)])
    axes = [_axis(d, codes) for d, codes in zip(dims, shape, strict=True)]
    full = np.asarray(interior, np.int64)
    fkeys = np.asarray(keys, np.int64)
    for ax in range(full.ndim):
        full = np.concatenate([full, full.sum(axis=ax, keepdims=True)], axis=ax)
        fkeys = np.concatenate([fkeys, fkeys.sum(axis=ax, keepdims=True) % MOD], axis=ax)
    spec = TableSpec(name="t", axes=tuple(AxisSpec(dim=d) for d in dims))
    cube = Cube(spec, dims, tuple(c for c, _ in axes), tuple(ch for _, ch in axes), full)
    out, out_keys = [cube], [fkeys]
    if len(dims) > 1:
        margin = tuple(slice(None) if i == 0 else -1 for i in range(len(dims)))
        spec1 = TableSpec(name="t_x", axes=(AxisSpec(dim="x"),))
        out.append(Cube(spec1, ("x",), (axes[0][0],), (axes[0][1],), full[margin]))
        out_keys.append(fkeys[margin])
    return out, out_keys


class History:
    """One quarter published again and again, as the node would (toy records)."""

    def __init__(self, shape: Sequence[Sequence[str]], seed: int = 0) -> None:
        self.shape = shape
        self.rng = np.random.default_rng(seed)
        self.pubs: list[CkmPub] = []
        self.seen: list[Seen] = []
        self.truths: list[np.ndarray] = []
        self.keys: np.ndarray | None = None
        self.counts: np.ndarray | None = None

    def publish(self, interior: np.ndarray, *, protect: bool = True) -> CkmPub:
        """Publish today's interior counts; a cell's key changes when its records do."""
        interior = np.asarray(interior, np.int64)
        fresh_keys = self.rng.integers(0, MOD, interior.shape)
        if self.keys is None or self.counts is None:
            keys = fresh_keys
        else:
            keys = np.where(interior == self.counts, self.keys, fresh_keys)
        keys = np.where(interior == 0, 0, keys)
        self.keys, self.counts = keys, interior
        cubes, key_cubes = _cubes(interior, keys, self.shape)
        snap = f"2024-01-01T{len(self.pubs):02d}:00:00Z"
        cand = candidate(
            period="2024-Q1", revision=len(self.pubs) + 1, snapshot=snap, k=K, ptable=PTABLE,
            cubes=cubes, key_cubes=key_cubes, part_cubes=[cubes], part_key_cubes=[key_cubes],
            earlier=self.pubs,
        )  # fmt: skip
        pub = protect_changes(cand, self.pubs).pub if protect else cand.decide()
        self.pubs.append(pub)
        tables = [
            published_table(c, [int(v) for v in pub.values[cv.ravel()]])
            for c, cv in zip(cubes, pub.system.cell_var, strict=True)
        ]
        flags = {
            c.spec.name: [FLAG[int(k)] for k in pub.kind[cv.ravel()]]
            for c, cv in zip(cubes, pub.system.cell_var, strict=True)
        }
        parts = {
            c.spec.name: pub.parts[cv.ravel()]
            for c, cv in zip(cubes, pub.system.cell_var, strict=True)
        }
        self.seen.append(Seen("2024-Q1", snap, tables, flags, parts))
        return pub

    def attack(self) -> list:
        return CkmAttacker(self.seen, k=K, noise=D).pinned()


def test_a_margin_redrawn_over_two_frozen_children_pins_them_and_is_frozen_too() -> None:
    """a: 10 → 13, b: 10 → 12, so a + b: 20 → 25 is redrawn (5 ≥ k) while a and b keep
    their numbers (3, 2 < k). Then a + b moved by 5 and neither child by 5 or more: each
    child changed by 1 … 4, a change the rule exists to hide. The audit freezes a + b."""
    plain = History([("a", "b")])
    plain.publish(np.array([10, 10]))
    pub = plain.publish(np.array([13, 12]), protect=False)
    assert pub.kind.tolist() == [FROZEN, FROZEN, UP]
    pinned = plain.attack()  # the independent attacker sees the hole ...
    assert {p.what.split()[-1] for p in pinned} == {"'a'}", "'b'}"}
    assert audit_changes(plain.pubs[:1], _cand(plain), pub)  # ... and so does the audit

    safe = History([("a", "b")])
    first = safe.publish(np.array([10, 10]))
    second = safe.publish(np.array([13, 12]))
    assert second.kind.tolist() == [FROZEN, FROZEN, SECONDARY]
    assert np.array_equal(second.values, first.values)  # republished: always safe
    assert safe.attack() == []


def _cand(h: History):
    """The last publication's candidate again (to audit given decisions)."""
    last = h.pubs[-1]
    cubes, key_cubes = _cubes(h.counts, h.keys, h.shape)
    return candidate(
        period="2024-Q1", revision=last.revision, snapshot=last.snapshot, k=K, ptable=PTABLE,
        cubes=cubes, key_cubes=key_cubes, part_cubes=[cubes], part_key_cubes=[key_cubes],
        earlier=h.pubs[:-1],
    )  # fmt: skip


def test_three_children_let_the_margin_be_redrawn() -> None:
    """With a third child (as every codebook axis has: ``_U``) the same change pins nothing:
    a + b + c moved by 5, each child by up to 4 either way."""
    h = History([("a", "b", "c")])
    h.publish(np.array([10, 10, 3]))
    pub = h.publish(np.array([13, 12, 3]))
    assert pub.kind.tolist() == [FROZEN, FROZEN, FROZEN, UP]
    assert h.attack() == []


def test_a_redrawn_cell_shows_todays_noise_and_a_frozen_one_its_anchor() -> None:
    h = History([("a", "b", "c")])
    first = h.publish(np.array([20, 1, 0]))
    second = h.publish(np.array([26, 2, 4]))  # a: +6 redrawn; b +1, c +4 frozen
    third = h.publish(np.array([27, 7, 4]))  # a: +1 since r2; b: +6 since r1 (its anchor)
    assert second.kind[:3].tolist() == [UP, FROZEN, FROZEN]
    assert second.values[1:3].tolist() == first.values[1:3].tolist()
    assert third.kind[:3].tolist() == [FROZEN, UP, FROZEN]
    assert third.values[0] == second.values[0] and third.values[2] == first.values[2]
    assert third.anchor_counts[:3].tolist() == [26, 7, 0]
    assert h.attack() == []


@given(
    steps=st.lists(st.lists(st.integers(-3, 8), min_size=6, max_size=6), min_size=1, max_size=3),
    start=st.lists(st.integers(0, 12), min_size=6, max_size=6),
    seed=st.integers(0, 2**16),
)
def test_no_history_lets_the_attacker_pin_a_change(steps, start, seed) -> None:
    """Random revisions of two linked tables (x × y and x): whatever the rule redraws and the
    audit freezes, the independent attacker pins no change, every number the audit did not
    freeze is within D + k − 1 of the truth, no number is 1 … js, and frozen numbers are
    their anchors'."""
    h = History([("a", "b"), ("p", "q", "r")], seed=seed)
    counts = np.array(start).reshape(2, 3)
    pubs = [h.publish(counts)]
    for step in steps:
        counts = np.maximum(counts + np.array(step).reshape(2, 3), 0)
        pubs.append(h.publish(counts))
    for pub in pubs:
        # Within D + k − 1 of the truth, unless frozen to protect another cell (then
        # within D of its anchor, which moved by k or more).
        primary = pub.kind != SECONDARY
        assert (np.abs(pub.values - pub.counts)[primary] <= D + K - 1).all()
        assert (np.abs(pub.values - pub.anchor_counts) <= D).all()
        assert not ((pub.values >= 1) & (pub.values <= 4)).any()
        frozen = (pub.kind == FROZEN) | (pub.kind == SECONDARY)
        assert (np.abs(pub.counts - pub.anchor_counts)[pub.kind == FROZEN] < K).all()
        assert np.array_equal(
            pub.values[frozen], PTABLE.perturb(pub.anchor_counts, pub.anchor_keys)[frozen]
        )
    assert h.attack() == []


@pytest.mark.slow
@given(
    steps=st.lists(st.lists(st.integers(-4, 9), min_size=6, max_size=6), min_size=2, max_size=4),
    start=st.lists(st.integers(0, 15), min_size=6, max_size=6),
    seed=st.integers(0, 2**16),
)
def test_no_long_history_lets_the_attacker_pin_a_change(steps, start, seed) -> None:
    test_no_history_lets_the_attacker_pin_a_change.hypothesis.inner_test(steps, start, seed)  # type: ignore[attr-defined]
