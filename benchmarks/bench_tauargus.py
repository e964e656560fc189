"""Head to head with tau-ARGUS (pytauargus 0.6.0: headless tau-ARGUS on HiGHS) at k = s = 5.

Tables: the synthetic "1k" (9×9×9), "4d" (10×2×5×6: the shape of the issue's admin-1 × sex ×
age × device table, 1,386 cells with margins) and "10k" (9×9×9×9) cubes of
``bench_protect.py``, and the default national linked tables of the synthetic federation (one
country, 2024).
For each: vanfed (heuristic, and optimal MILP within a time limit; grand total published)
and tau-ARGUS Modular (HiTaS) and Optimal, each with its usual rule FREQ(5,30) and with a
manual protection level: every primary cell gets lower + upper protection levels adding up
to s (LPL = min(n, s // 2), UPL = s - LPL; an apriori ``PL`` line), so a tau-ARGUS pattern
that meets them gives every primary an interval at least s wide, vanfed's guarantee.

Every output is judged by vanfed's interval attack on the *joint* system of the tables
(headless tau-ARGUS protects one table at a time: linked tables are run one by one and a
cell counts as hidden only where every table holding it hides it). Reported per run:
seconds, cells hidden, value hidden, share of non-zero cells published, whether vanfed's
audit passes, unbounded intervals. tau-ARGUS runs in a child process with a time limit.

    /work/main/.venv/bin/pip install pytauargus==0.6.0      # the optional extra `bench`
    python benchmarks/bench_tauargus.py [CASE ...]    # 1k 4d 10k KHM MMR -> tauargus.json
    python benchmarks/bench_tauargus.py --reuse-tau 10k  # vanfed again, tau-ARGUS kept

The 10k case gives tau-ARGUS 3,000 s (the whole run takes about an hour). With
``--reuse-tau`` a case keeps the tau-ARGUS columns of its previous run (their date is kept in
``tau_measured_at``): vanfed is measured again without waiting an hour for tau-ARGUS.

Timings are wall-clock on a shared machine: compare the columns of one case, measured in
the same run (the 1-minute load average is recorded with each case).
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_protect import SHAPES, table

from vanfed.anonymize import (
    DEFAULT_TABLES,
    Cube,
    ProtectionSettings,
    build_cube,
    build_system,
    interval_attack,
    judge,
    primary_cells,
    protect_cubes,
    select_period,
)
from vanfed.ingest import ingest
from vanfed.schema import load_codebook, load_mapping
from vanfed.synthetic import write_export
from vanfed.testing import make_cube

HERE = Path(__file__).parent

K = S = 5
DEFAULT_CASES = ["1k", "4d", "10k", "KHM", "MMR"]
# seconds per tau-ARGUS run (child killed after); 10k: long enough to bound the speed-up
TAU_LIMIT = {"1k": 300, "4d": 1200, "10k": 3000}
OPT_LIMIT = {"1k": 180.0, "4d": 180.0, "10k": 180.0}  # vanfed optimal mode time limit
TAU_RUNS = [("MOD", "FREQ"), ("MOD", "manual"), ("OPT", "FREQ"), ("OPT", "manual")]
TAU_RUNS_LARGE = [("MOD", "manual")]


def case_cubes(name: str) -> tuple[Cube, ...]:
    if name in SHAPES:
        return (make_cube(table(SHAPES[name])),)
    cb = load_codebook()
    ex = write_export(name, HERE / "data" / "national", seed=2024)
    rec = ingest(ex.path, load_mapping(ex.mapping_path), country=name, today=dt.date(2026, 11, 22))
    mask = select_period(rec, "2024")
    return tuple(build_cube(rec, spec, cb, mask) for spec in DEFAULT_TABLES)


def _interior(cube: Cube) -> np.ndarray:
    return cube.values[tuple(slice(0, len(c) - 1) for c in cube.codes)]


def _tau_files(cube: Cube, wd: Path, method: str, rule: str) -> Path:
    """Microdata (one record per count), metadata, apriori and batch file for one table."""
    from pytauargus.arb import micro_arb
    from pytauargus.micro import micro_asc_rda

    interior = _interior(cube)
    dims = [f"v{i}" for i in range(interior.ndim)]
    flat = np.repeat(np.arange(interior.size), interior.ravel())
    coords = np.unravel_index(flat, interior.shape)
    micro: dict[str, list[object]] = {
        d: [f"c{j}" for j in c] for d, c in zip(dims, coords, strict=True)
    }
    micro["one"] = [1] * flat.size
    micro_asc_rda(
        micro, asc_filename=str(wd / "m.asc"), rda_filename=str(wd / "m.rda"), totcode="_T"
    )
    apriori = None
    if rule == "manual":
        lines = []
        for pos in zip(*np.nonzero((cube.values > 0) & (cube.values < K)), strict=True):
            n = int(cube.values[pos])
            codes = [
                "_T" if i == len(c) - 1 else f"c{i}" for i, c in zip(pos, cube.codes, strict=True)
            ]
            lpl = min(n, S // 2)
            lines.append(",".join([*codes, "PL", str(lpl), str(S - lpl)]))
        if lines:
            # the first apriori line may carry one number only (pytauargus field check):
            # restate the grand total's own cost
            first = ",".join(["_T"] * len(dims) + ["C", str(int(cube.values.flat[-1]))])
            (wd / "ap.hst").write_text("\n".join([first, *lines]) + "\n")
            apriori = {"hst": str(wd / "ap.hst"), "sep": ","}
    suppress = "MOD(1,5,1,1,1)" if method == "MOD" else "OPT(1,5)"  # max minutes
    micro_arb(
        arb_filename=str(wd / "b.arb"),
        asc_filename=str(wd / "m.asc"),
        rda_filename=str(wd / "m.rda"),
        explanatory_vars=[dims],
        response_var="one",
        safety_rules="FREQ(5,30)",
        suppress=suppress,
        output_names=[str(wd / "t.tab")],
        output_type="5",
        output_options="SO+",
        apriori=apriori,
    )
    return wd / "b.arb"


CHILD = (
    "import sys, time; from pytauargus.engine import run_batch; t = time.perf_counter(); "
    "run_batch(sys.argv[1]); print(time.perf_counter() - t)"
)


def _tau_mask(cube: Cube, tab: Path) -> np.ndarray:
    hidden = np.zeros(cube.shape, bool)
    for line in tab.read_text().splitlines():
        f = [x.strip().strip('"').strip() for x in line.split(";")]
        codes, status = f[: cube.values.ndim], f[-3]
        pos = tuple(
            len(c) - 1 if code == "_T" else int(code[1:])
            for code, c in zip(codes, cube.codes, strict=True)
        )
        hidden[pos] = status not in ("S", "P", "E", "Z")
    return hidden


def run_tau(cubes: tuple[Cube, ...], method: str, rule: str, limit: float) -> dict[str, object]:
    """Each table through tau-ARGUS; the hidden mask per table, or why it did not finish."""
    masks, seconds = [], 0.0
    for cube in cubes:
        if not ((cube.values > 0) & (cube.values < K)).any():
            masks.append(np.zeros(cube.shape, bool))  # nothing unsafe: tau-ARGUS hides nothing
            continue
        with tempfile.TemporaryDirectory(prefix="vanfed-tau-") as tmp:
            arb = _tau_files(cube, Path(tmp), method, rule)
            try:
                proc = subprocess.run(
                    [sys.executable, "-c", CHILD, str(arb)],
                    capture_output=True,
                    text=True,
                    timeout=max(limit - seconds, 1),
                    check=False,
                    cwd=tmp,  # tau-ARGUS writes its log and scratch files where it runs
                )
            except subprocess.TimeoutExpired:
                return {"finished": False, "reason": f"over {limit:.0f} s", "limit_s": limit}
            if proc.returncode != 0:
                last = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
                return {"finished": False, "reason": f"{cube.spec.name}: {last[:200]}"}
            seconds += float(proc.stdout.strip().splitlines()[-1])
            masks.append(_tau_mask(cube, Path(tmp) / "t.tab"))
    return {"finished": True, "seconds": round(seconds, 2), "masks": masks}


def judged(cubes: tuple[Cube, ...], hidden_per_table: list[np.ndarray]) -> dict[str, object]:
    """What the publication hides and what vanfed's attack makes of it."""
    system = build_system(cubes)
    values = system.gather(cubes)
    published = np.zeros(system.size, bool)
    for ids, hidden in zip(system.cell_var, hidden_per_table, strict=True):
        published[ids[~hidden]] = True  # shown in any table: known
    mask = ~published
    audit = judge(system, np.where(mask, -1, values), mask, k=K, s=S)
    _, hi = interval_attack(system, np.where(mask, -1, values), mask)
    nz = values > 0
    return {
        "cells_hidden": int(mask.sum()),
        "value_hidden": int(values[mask].sum()),
        "nonzero_published": round(float((nz & ~mask).sum() / max(nz.sum(), 1)), 4),
        "audit_passed": audit.passed,
        "exposed_cells": len(audit.failing),
        "unbounded_intervals": int((mask & ~np.isfinite(hi)).sum()),
    }


def run_vanfed(cubes: tuple[Cube, ...], settings: ProtectionSettings) -> dict[str, object]:
    t0 = time.perf_counter()
    p = protect_cubes(cubes, settings)
    secs = time.perf_counter() - t0
    hidden = [p.suppressed[ids] for ids in p.system.cell_var]
    out: dict[str, object] = {"seconds": round(secs, 2), **judged(cubes, hidden)}
    assert p.solve is not None
    out["method"] = p.solve.method
    out["loss"] = round(p.solve.loss, 2)
    if settings.method == "optimal":
        out["proven_optimal"] = p.solve.proven
        out["gap"] = None if p.solve.gap is None else round(p.solve.gap, 4)
        out["lower_bound_loss"] = (
            None if p.solve.lower_bound is None else round(p.solve.lower_bound, 2)
        )
    return out


def run_case(name: str, reuse: dict[str, object] | None = None) -> dict[str, object]:
    cubes = case_cubes(name)
    system = build_system(cubes)
    values = system.gather(cubes)
    row: dict[str, object] = {
        "case": name,
        "tables": len(cubes),
        "cells": int(system.size),
        "nonzero": int((values > 0).sum()),
        "primary": int(primary_cells(values, K).sum()),
    }
    row["vanfed_heuristic"] = run_vanfed(cubes, ProtectionSettings(k=K, s=S))
    print(name, "vanfed heuristic", row["vanfed_heuristic"], file=sys.stderr, flush=True)
    limit = OPT_LIMIT.get(name, 60.0)
    row["vanfed_optimal"] = run_vanfed(
        cubes, ProtectionSettings(k=K, s=S, method="optimal", time_limit=limit)
    )
    print(name, "vanfed optimal", row["vanfed_optimal"], file=sys.stderr, flush=True)
    if reuse is not None:
        row |= {key: value for key, value in reuse.items() if key.startswith("tau_")}
        row.setdefault("tau_measured_at", reuse["measured_at"])
        row["speedup_vs_tau_modular_manual"] = speedup(row)
        return row
    runs = TAU_RUNS_LARGE if name == "10k" else TAU_RUNS
    for method, rule in runs:
        res = run_tau(cubes, method, rule, TAU_LIMIT.get(name, 300))
        key = f"tau_{'modular' if method == 'MOD' else 'optimal'}_{rule}"
        if res["finished"]:
            masks = res.pop("masks")
            assert isinstance(masks, list)
            res.update(judged(cubes, masks))
        row[key] = res
        print(name, key, res, file=sys.stderr, flush=True)
    row["speedup_vs_tau_modular_manual"] = speedup(row)
    return row


def speedup(row: dict[str, object]) -> str | None:
    """tau-ARGUS Modular (manual levels) time over vanfed's default time; a lower bound
    (">=") when tau-ARGUS did not finish within its limit."""
    tau, ours = row.get("tau_modular_manual"), row["vanfed_heuristic"]
    assert isinstance(ours, dict)
    if not isinstance(tau, dict):
        return None
    secs = float(ours["seconds"])
    if tau["finished"]:
        return f"{float(tau['seconds']) / secs:.1f}x"
    return f">= {float(tau['limit_s']) / secs:.0f}x"


def main(cases: list[str], reuse_tau: bool = False) -> None:
    """Run the cases; each replaces its own row in tauargus.json (others are kept)."""
    import os

    import pytauargus

    target = HERE / "results" / "tauargus.json"
    before = json.loads(target.read_text()) if target.exists() else {"cases": []}
    previous = {r["case"]: r for r in before["cases"]}
    new = {}
    for c in cases:
        row = run_case(c, previous.get(c) if reuse_tau else None)
        row["load_average_1min"] = round(os.getloadavg()[0], 1)  # 2 shared cores
        row["measured_at"] = dt.date.today().isoformat()
        new[c] = row
    # read at the end: runs of other cases may have finished meanwhile
    old = json.loads(target.read_text()) if target.exists() else {"cases": []}
    rows = {r["case"]: r for r in old["cases"]} | new
    out = {
        "k": K,
        "s": S,
        "pytauargus": pytauargus.__version__,
        "manual_protection": "LPL = min(n, s // 2), UPL = s - LPL on every primary cell",
        "goal": "at s = 5 fewer cells and less value hidden than tau-ARGUS where it finishes; "
        ">= 40x faster; no unbounded interval",
        "cases": [rows[c] for c in DEFAULT_CASES if c in rows]
        + [r for c, r in rows.items() if c not in DEFAULT_CASES],
    }
    target.parent.mkdir(exist_ok=True)
    target.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    reuse = "--reuse-tau" in sys.argv
    main([a for a in sys.argv[1:] if a != "--reuse-tau"] or DEFAULT_CASES, reuse_tau=reuse)
