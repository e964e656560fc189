"""The cell key method over time: refusals, cells shown, staleness and error of sticky noise.

For KHM, LAO and THA (synthetic, seed 11, 2015–2024) and the schedules of
``history-design.md`` §1.2, a CKM node publishes every scheduled period with its ledger
(``Node.summarize_many`` then ``Node.sign``), and the coordinator's door takes each envelope
(``Inbox.accept``). Records arrive late: each record gets a uniform rank, and a publication
at share *x* knows the records with rank < *x* (as ``bench_history.py``).

=========  ===============================================================================
annual     each year r1 at 80 %, r2 at 90 %, r3 at 100 % (3 a year)
qa         Q1 … Q4 r1 at 80 % (one run each), then Q1 … Q4 r2 and the year r1 at 90 % in
           one run, then Q1 … Q4 r3 and the year r2 at 100 % in one run (14 a year)
bench      the developers' schedule: every quarter r1, then r2, then r3 at 80/90/100 % (12)
=========  ===============================================================================

Measured per country and schedule: publications refused (node or door); the share of truly
non-zero cells shown non-zero (first publications, revisions); the share of non-zero cells
of revisions that are *stale* (their number was drawn at an earlier publication and their
records changed since, by fewer than k); |published − true| on non-zero cells (mean, 95th
percentile, max; the bound is D + k − 1); cells frozen by the change-table audit
(secondary freezing); node and door latency; and, with ``--attack``, what the independent
attacker of the tests (``tests/ckm_attacker.py``, integer programming) pins in each year's
whole history (should be nothing).

Run from the repository root: ``python benchmarks/bench_history_ckm.py [--attack]
[--years N] [--countries KHM,LAO] [--schedules annual,qa]`` →
``benchmarks/results/history_ckm.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from random import Random

import numpy as np

from vanfed import Node
from vanfed.anonymize import DEFAULT_TABLES, build_cube, build_ptable, select_period
from vanfed.anonymize._ckm_revisions import CKM_CELLS_FOLDER, FRESH, FROZEN, SECONDARY, CkmCells
from vanfed.errors import VanfedError
from vanfed.ingest import CodedRecords
from vanfed.schema import CkmParams, Policy, Summary, load_codebook, load_mapping
from vanfed.signing import KeyPair, init_registry, key_entry, sign_registry, verify_registry
from vanfed.synthetic import write_export
from vanfed.transport import Inbox, Rejected

HERE = Path(__file__).parent
PARAMS = CkmParams(max_noise=5, variance=3.0, js=4)
K = 5
COUNTRIES = ("KHM", "LAO", "THA")
SCHEDULES = ("annual", "qa", "bench")


def steps(schedule: str, year: int) -> list[tuple[float, list[str]]]:
    """A year's runs: (share of records known, periods summarized together)."""
    qs = [f"{year}-Q{q}" for q in (1, 2, 3, 4)]
    if schedule == "annual":
        return [(s, [str(year)]) for s in (0.8, 0.9, 1.0)]
    if schedule == "qa":
        return [(0.8, [q]) for q in qs] + [(0.9, [*qs, str(year)]), (1.0, [*qs, str(year)])]
    return [(s, [q]) for s in (0.8, 0.9, 1.0) for q in qs]


def subset(rec: CodedRecords, keep: np.ndarray) -> CodedRecords:
    assert rec.ids is not None
    return dataclasses.replace(
        rec, fields={f: v[keep] for f, v in rec.fields.items()}, ids=rec.ids[keep]
    )


class Door:
    """A seeded registry agreeing on the ptable, and the coordinator's inbox."""

    def __init__(self, country: str, folder: Path, now: dt.datetime) -> None:
        seed = iter(range(100, 200))
        roots = [KeyPair.from_seed(bytes([next(seed)]) * 32) for _ in range(3)]
        coordinator = KeyPair.from_seed(bytes([next(seed)]) * 32)
        log = KeyPair.from_seed(bytes([next(seed)]) * 32)
        self.node = KeyPair.from_seed(bytes([next(seed)]) * 32)
        entries = [
            key_entry(coordinator.public, "coordinator", now=now),
            key_entry(log.public, "log", now=now),
            key_entry(self.node.public, "node", now=now, country=country),
        ]
        policy = Policy(ckm=build_ptable(PARAMS).record())
        registry = init_registry(
            [k.public for k in roots], threshold=2, now=now, keys=entries, policy=policy
        )
        self.registry = verify_registry(sign_registry(registry, roots[:2]), now=now)
        self.inbox = Inbox(
            folder, self.registry, coordinator=coordinator, log_key=log, now=lambda: now
        )


def truth(rec: CodedRecords, period: str) -> np.ndarray:
    cb = load_codebook()
    mask = select_period(rec, period, allow_empty=True)
    return np.concatenate([build_cube(rec, s, cb, mask).values.ravel() for s in DEFAULT_TABLES])


def run(country: str, schedule: str, years: int, attack: bool) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix=f"vanfed-ckm-{country}-{schedule}-"))
    first = 2025 - years
    ex = write_export(country, work / "export", years=range(first, 2025), seed=11)
    now0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    node = Node(country, method="ckm", agreed=build_ptable(PARAMS).record(), ledger=work / "ledger")
    rec = node.ingest(ex.path, load_mapping(ex.mapping_path), today=now0.date())
    rank = np.random.default_rng(0).random(len(rec))
    door = Door(country, work / "inbox", now0 - dt.timedelta(days=1))
    cells = CkmCells(work / "ledger" / CKM_CELLS_FOLDER)
    rng = Random(11)  # record keys and report ids: the same run gives the same numbers
    rows: list[dict[str, object]] = []
    node_s: list[float] = []
    door_s: list[float] = []
    clock = now0
    try:
        for year in range(first, 2025):
            for share, periods in steps(schedule, year):
                clock += dt.timedelta(hours=1)
                known = subset(rec, rank < share)
                t0 = time.perf_counter()
                try:
                    made = node.summarize_many(
                        known, periods=periods, now=clock, allow_empty=True, rng=rng
                    )
                except VanfedError as exc:
                    rows += [{"period": p, "share": share, "refused": str(exc)} for p in periods]
                    continue
                node_s.append(time.perf_counter() - t0)
                for s in made:
                    env = node.sign(s, door.node)
                    t1 = time.perf_counter()
                    try:
                        door.inbox.accept(env)
                    except Rejected as exc:
                        rows.append({"period": s.period, "share": share, "door": str(exc)})
                        continue
                    door_s.append(time.perf_counter() - t1)
                    rows.append(describe(s, cells, truth(known, s.period), share))
    finally:
        door.inbox.close()
    out = summarize(country, schedule, rows, node_s, door_s)
    if attack:
        out["attacker"] = attack_all(node, cells)
    return out


def describe(s: Summary, cells: CkmCells, true: np.ndarray, share: float) -> dict[str, object]:
    state = cells.load(s)
    assert state is not None
    kind = np.concatenate([t.kind for t in state.tables])
    anchor = np.concatenate([t.anchor_counts for t in state.tables])
    values = np.concatenate([np.array(t.values) for t in s.tables])
    nz = true > 0
    frozen = (kind == FROZEN) | (kind == SECONDARY)
    err = np.abs(values - true)[nz]
    return {
        "period": s.period,
        "revision": s.revision,
        "share": share,
        "first": bool((kind == FRESH).all()),  # nothing to keep: a first publication
        "nonzero": int(nz.sum()),
        "shown": int((nz & (values > 0)).sum()),
        "stale": int((nz & frozen & (anchor != true)).sum()),
        "repeated": int((nz & frozen).sum()),
        "secondary": int((kind == SECONDARY).sum()),
        "err_sum": float(err.sum()),
        "err": err.astype(int).tolist(),
    }


def summarize(
    country: str, schedule: str, rows: list[dict], node_s: list[float], door_s: list[float]
) -> dict[str, object]:
    done = [r for r in rows if "nonzero" in r]
    firsts = [r for r in done if r["first"]]
    later = [r for r in done if not r["first"]]

    def share(rs: list[dict], key: str) -> float | None:
        n = sum(r["nonzero"] for r in rs)
        return round(sum(r[key] for r in rs) / n, 3) if n else None

    errs = np.array([e for r in done for e in r["err"]] or [0])
    later_errs = np.array([e for r in later for e in r["err"]] or [0])
    return {
        "country": country,
        "schedule": schedule,
        "scheduled": len(rows),
        "refused": len(rows) - len(done),
        "refused_share": round((len(rows) - len(done)) / len(rows), 3),
        "refusals": [r for r in rows if "nonzero" not in r][:10],
        "nonzero_shown_first": share(firsts, "shown"),
        "nonzero_shown_revisions": share(later, "shown"),
        "stale_revisions": share(later, "stale"),
        "repeated_revisions": share(later, "repeated"),
        "abs_error_mean": round(float(errs.mean()), 3),
        "abs_error_p95": float(np.percentile(errs, 95)),
        "abs_error_max": int(errs.max()),
        "abs_error_mean_revisions": round(float(later_errs.mean()), 3),
        "secondary_frozen_cells": sum(r["secondary"] for r in done),
        "publications_with_secondary": sum(1 for r in done if r["secondary"]),
        "node_run_s": _lat(node_s),
        "door_s": _lat(door_s),
    }


def _lat(xs: list[float]) -> dict[str, float]:
    if not xs:
        return {}
    return {
        "p50": round(statistics.median(xs), 3),
        "p95": round(float(np.percentile(xs, 95)), 3),
        "max": round(max(xs), 3),
    }


def attack_all(node: Node, cells: CkmCells) -> dict[str, object]:
    """The independent attacker of the tests on each year's whole history."""
    sys.path.insert(0, str(HERE.parent))
    from tests.ckm_attacker import FRESH, REDRAWN, REPEATED, CkmAttacker, Seen

    flag = {0: FRESH, 1: REDRAWN, 2: REDRAWN, 3: REPEATED, 4: REPEATED}
    assert node.ledger is not None
    by_year: dict[str, list[Seen]] = {}
    for e in node.ledger.entries(node.country):
        state = cells.load(e.summary)
        assert state is not None
        flags = {t.name: [flag[int(k)] for k in t.kind] for t in state.tables}
        parts = {t.name: t.parts for t in state.tables}  # a first solution, checked
        seen = Seen(e.summary.period, e.summary.created_at, e.summary.tables, flags, parts)
        by_year.setdefault(e.summary.period[:4], []).append(seen)
    pinned, t0 = [], time.perf_counter()
    for year, seen in sorted(by_year.items()):
        pinned += [
            f"{year}: {p.what}" for p in CkmAttacker(seen, k=K, noise=PARAMS.max_noise).pinned()
        ]
    return {"years": len(by_year), "pinned": pinned, "seconds": round(time.perf_counter() - t0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--years", type=int, default=10)
    ap.add_argument("--countries", default=",".join(COUNTRIES))
    ap.add_argument("--schedules", default=",".join(SCHEDULES))
    ap.add_argument("--attack", action="store_true", help="run the independent attacker too")
    args = ap.parse_args()
    results = []
    for country in args.countries.split(","):
        for schedule in args.schedules.split(","):
            t0 = time.perf_counter()
            res = run(country, schedule, args.years, args.attack)
            res["wall_s"] = round(time.perf_counter() - t0, 1)
            print(json.dumps({k: v for k, v in res.items() if k != "refusals"}), flush=True)
            results.append(res)
    out = {
        "ckm_params": PARAMS.model_dump(),
        "k": K,
        "years": args.years,
        "schedules": {s: steps(s, 2024) for s in SCHEDULES},
        "results": results,
    }
    (HERE / "results" / "history_ckm.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
