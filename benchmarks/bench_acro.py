"""acro's threshold rule on the same synthetic tables, judged by vanfed's interval attack.

acro (https://pypi.org/project/acro/, SACRO project) checks a crosstab against a minimum
threshold (count < t, zeros included) and flags the cells for suppression; it does no
secondary suppression. We give it the same records as ``bench_protect.py`` (one record per
count), a threshold equal to vanfed's k, ``crosstab(d0, [d1, …], margins=True)``, and then
audit what it would publish — its interior cells, its row and column margins and grand
total, minus the flagged cells — with vanfed's interval attack (the margins acro does not
print are unknown to the attacker, so they count as hidden too).

acro is not a vanfed dependency; run this from an environment that has both:

    python -m venv /tmp/acro-venv && /tmp/acro-venv/bin/pip install acro -e .
    /tmp/acro-venv/bin/python benchmarks/bench_acro.py [SIZE ...]     # 1k 10k 20k

Results: benchmarks/results/acro.json.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import time
from pathlib import Path

import acro
import numpy as np
import pandas as pd
from bench_protect import SHAPES, table

from vanfed.anonymize import build_system, judge
from vanfed.testing import make_cube

HERE = Path(__file__).parent

K = 5


def run(name: str) -> dict[str, object]:
    interior = table(SHAPES[name])
    shape = interior.shape
    cells = np.repeat(np.arange(interior.size), interior.ravel())
    coords = np.unravel_index(cells, shape)
    df = pd.DataFrame(
        {f"d{i}": pd.Categorical(coords[i], categories=range(shape[i])) for i in range(len(shape))}
    )
    logging.disable(logging.CRITICAL)
    session = acro.ACRO(suppress=True)
    session.sdc_checks.risk_appetite["safe_threshold"] = K
    t0 = time.perf_counter()
    session.crosstab(df.d0, [df[f"d{i}"] for i in range(1, len(shape))], margins=True)
    secs = time.perf_counter() - t0
    record = list(session.results.results.values())[-1]
    flagged = record.sdc["cells"]["MinimumThresholdCheck"]
    # Published cube cells: interior, (all rows, each column) margin, (each row, all columns)
    # margin, grand total; positions in acro's 2-D output map onto the cube.
    full = tuple(n + 1 for n in shape)
    published = np.zeros(full, bool)
    inner = tuple(slice(0, n) for n in shape)
    published[inner] = True
    published[(shape[0], *inner[1:])] = True  # the "All" row
    published[(slice(0, shape[0]), *(n for n in shape[1:]))] = True  # the "All" column
    published[tuple(n for n in shape)] = True
    hidden_cube = ~published
    rest = shape[1:]
    for r, c in flagged:
        row = r if r < shape[0] else shape[0]
        n_cols = int(np.prod(rest))
        col = np.unravel_index(c, rest) if c < n_cols else tuple(rest)
        hidden_cube[(row, *col)] = True
    cube = make_cube(interior)
    system = build_system([cube])
    values = system.gather([cube])
    hidden = np.zeros(system.size, bool)
    hidden[system.cell_var[0][hidden_cube]] = True
    t1 = time.perf_counter()
    verdict = judge(system, values, hidden, k=K, s=K)
    return {
        "table": name,
        "cells_in_cube": int(values.size),
        "acro_printed_cells": int(published.sum()),
        "acro_flagged": len(flagged),
        "acro_flagged_total": int(sum(values[system.cell_var[0][hidden_cube & published]])),
        "acro_seconds": round(secs, 2),
        "vanfed_audit_passed": verdict.passed,
        "exposed_cells": len(verdict.failing),
        "audit_seconds": round(time.perf_counter() - t1, 2),
    }


def main(sizes: list[str]) -> None:
    rows = []
    for name in sizes:  # results are written after every table: acro is slow on big ones
        r = run(name)
        print(json.dumps(r), flush=True)
        rows.append(r)
        out = {
            "acro_version": getattr(acro, "__version__", "1.0.2"),
            "k": K,
            "tables": rows,
            "measured_at": dt.date.today().isoformat(),
        }
        (HERE / "results").mkdir(exist_ok=True)
        (HERE / "results" / "acro.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:] or ["1k", "10k", "20k"])
