"""Synthetic exports: a function of the seed, shaped like the country's real export, with
dirty rows counted so tests can hold ingest to them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vanfed.synthetic import PROFILES, generate_records, write_export


def test_same_seed_same_records_other_seed_other_records() -> None:
    a = generate_records("KHM", range(2022, 2025), seed=1)
    b = generate_records("KHM", range(2022, 2025), seed=1)
    c = generate_records("KHM", range(2022, 2025), seed=2)
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert any(len(a[k]) != len(c[k]) or not np.array_equal(a[k], c[k]) for k in a)


def test_magnitudes_follow_the_profile() -> None:
    years = range(2000, 2020)
    rec = generate_records("MMR", years, seed=0)
    per_year = len(next(iter(rec.values()))) / len(years)
    assert 0.8 * PROFILES["MMR"].per_year < per_year < 1.2 * PROFILES["MMR"].per_year


def test_export_is_reproducible_and_counts_its_dirty_rows(tmp_path: Path) -> None:
    one = write_export("KHM", tmp_path / "a", seed=5)
    two = write_export("KHM", tmp_path / "b", seed=5)
    assert one.path.read_bytes() == two.path.read_bytes()
    assert one.mapping_path.read_text() == two.mapping_path.read_text()
    assert one.dirty_reasons and all(n > 0 for n in one.dirty_reasons.values())
    clean = write_export("KHM", tmp_path / "c", seed=5, dirty=False)
    assert clean.dirty_reasons == {}
