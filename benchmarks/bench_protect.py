"""Protection quality and speed on synthetic tables of ~1k, ~10k, ~20k and ~50k cells.

For each table: vanfed's protection with the default settings, as a national team gets it
(``protect_cubes``: value loss, grand total published, release pass up to 3,000 cells) and its
proving audit — time, cells hidden, value hidden, unbounded intervals — then an independent
re-audit of the published table, and the threshold rule alone (primary suppression only, the
rule acro applies) run through the same audit. Also the information kept on realistic
synthetic national data, per default table. Results: benchmarks/results/protect.json.

tau-ARGUS is compared in ``bench_tauargus.py`` (pytauargus 0.6.0 from PyPI).

    python benchmarks/bench_protect.py [SIZE ...]     # default 1k 10k 20k -> protect.json
    python benchmarks/bench_protect.py 50k            # -> protect-50k.json (long re-audit)
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path

import numpy as np

from vanfed.anonymize import (
    ProtectionSettings,
    interval_attack,
    judge,
    primary_cells,
    protect,
    protect_cubes,
)
from vanfed.ingest import ingest
from vanfed.schema import load_codebook, load_mapping
from vanfed.synthetic import PROFILES, write_export
from vanfed.testing import make_cube

HERE = Path(__file__).parent

SHAPES = {
    "1k": (9, 9, 9),
    "10k": (9, 9, 9, 9),
    "20k": (14, 11, 11, 9),
    "50k": (9, 9, 9, 9, 4),
    # the shape of the 4-D table: admin-1 (10) x sex x age band (5) x device (6)
    "4d": (10, 2, 5, 6),
}
DEFAULT_SIZES = ["1k", "10k", "20k"]
THRESHOLD_AUDIT_UP_TO = 25_000


def table(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Skewed counts: a few large cells, many small ones and zeros (like casualty data)."""
    rng = np.random.default_rng(seed)
    weights = np.ones(shape)
    for ax, n in enumerate(shape):
        w = rng.pareto(1.2, n) + 0.2
        weights *= w.reshape([-1 if i == ax else 1 for i in range(len(shape))])
    expected = weights / weights.sum() * (4 * weights.size)
    return rng.poisson(expected)


def run_size(name: str, k: int = 5) -> dict[str, object]:
    interior = table(SHAPES[name])
    cube = make_cube(interior)
    t0 = time.perf_counter()
    protected = protect_cubes([cube], ProtectionSettings(k=k, s=k))
    secs = time.perf_counter() - t0
    system, mask = protected.system, protected.suppressed
    values = system.gather([cube])
    t1 = time.perf_counter()
    published = np.where(mask, -1, values)
    again = judge(system, published, mask, k=k, s=k)
    audit_secs = time.perf_counter() - t1
    _, hi = interval_attack(system, published, mask)
    primary = primary_cells(values, k)
    if values.size <= THRESHOLD_AUDIT_UP_TO:
        exposed = judge(system, values, primary, k=k, s=k)
        threshold_only = {
            "suppressed": int(primary.sum()),
            "audit_passed": exposed.passed,
            "exposed_cells": len(exposed.failing),
        }
    else:  # another multi-minute interval attack, telling the same story
        threshold_only = {"suppressed": int(primary.sum()), "audit_passed": None}
    return {
        "table": name,
        "shape": SHAPES[name],
        "cells": int(values.size),
        "nonzero": int((values > 0).sum()),
        "primary": int(primary.sum()),
        "vanfed": {
            "seconds": round(secs, 2),
            "suppressed": int(mask.sum()),
            "suppressed_total": int(values[mask].sum()),
            "nonzero_published": round(float(((values > 0) & ~mask).sum() / (values > 0).sum()), 4),
            "unbounded_intervals": int((mask & ~np.isfinite(hi)).sum()),
            "audit_passed": again.passed,
            "reaudit_seconds": round(audit_secs, 2),
        },
        "threshold_only": threshold_only,
    }


def information_kept() -> list[dict[str, object]]:
    cb = load_codebook()
    out = []
    for country in PROFILES:
        ex = write_export(country, HERE / "data" / "national", seed=2024)
        rec = ingest(
            ex.path, load_mapping(ex.mapping_path), country=country, today=dt.date(2026, 11, 22)
        )
        p = protect(rec, cb, period="2024")
        values = p.system.gather(p.cubes)
        per_table = {}
        for cube, ids in zip(p.cubes, p.system.cell_var, strict=True):
            v, m = values[ids].ravel(), p.suppressed[ids].ravel()
            nz = v > 0
            per_table[cube.spec.name] = f"{int((nz & ~m).sum())}/{int(nz.sum())}"
        nz = values > 0
        out.append(
            {
                "country": country,
                "records_in_2024": int(p.cubes[0].values.flat[-1]),
                "nonzero_published": f"{int((nz & ~p.suppressed).sum())}/{int(nz.sum())}",
                "per_table": per_table,
            }
        )
    return out


def main(sizes: list[str]) -> None:
    results = []
    for name in sizes:
        r = run_size(name)
        print(json.dumps(r), file=sys.stderr)
        results.append(r)
    info = information_kept()
    (HERE / "results").mkdir(exist_ok=True)
    default = sizes == DEFAULT_SIZES
    target = "protect.json" if default else f"protect-{'-'.join(sizes)}.json"
    (HERE / "results" / target).write_text(
        json.dumps(
            {
                "k": 5,
                "s": 5,
                "goal": "20k-cell table protect + audit < 30 s; output always passes",
                "settings": "defaults (ProtectionSettings(k=5, s=5)): value loss, grand total "
                "published, release pass up to 3,000 cells",
                "measured_at": dt.date.today().isoformat(),
                "tables": results,
                "information_kept_national_2024": info,
            },
            indent=1,
        )
        + "\n"
    )


if __name__ == "__main__":
    main(sys.argv[1:] or DEFAULT_SIZES)
