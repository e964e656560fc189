"""Protection quality and speed on synthetic tables of ~1k, ~10k, ~20k and ~50k cells.

For each table: vanfed's suppression + interval-attack audit (time, suppressed cells,
suppressed total, audit verdict), and the threshold rule alone (primary suppression only, the
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

HERE = Path(__file__).parent

from vanfed.anonymize import build_system, judge, primary_cells, protect, suppress  # noqa: E402
from vanfed.ingest import ingest  # noqa: E402
from vanfed.schema import load_codebook, load_mapping  # noqa: E402
from vanfed.synthetic import PROFILES, write_export  # noqa: E402
from vanfed.testing import make_cube  # noqa: E402

SHAPES = {"1k": (9, 9, 9), "10k": (9, 9, 9, 9), "20k": (14, 11, 11, 9), "50k": (9, 9, 9, 9, 4)}
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
    system = build_system([cube])
    values = system.gather([cube])
    t0 = time.perf_counter()
    mask, _audit = suppress(system, values, k=k, s=k)
    secs = time.perf_counter() - t0
    t1 = time.perf_counter()
    again = judge(system, np.where(mask, -1, values), mask, k=k, s=k)
    audit_secs = time.perf_counter() - t1
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
                "tables": results,
                "information_kept_national_2024": info,
            },
            indent=1,
        )
        + "\n"
    )


if __name__ == "__main__":
    main(sys.argv[1:] or DEFAULT_SIZES)
