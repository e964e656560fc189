"""Publishing over time: refusals, what gets out, and latency at the node and the door.

A country publishes its default linked tables on a schedule while records arrive late (each
record gets a uniform rank; a publication at share *x* knows the records ranked below *x*).
Every publication goes through the node (protected jointly with its ledger, signed) and the
coordinator's real door (``Inbox.accept``: verify, the summary's re-audit, the revision
calendar, the history re-audit, log, receipt). Schedules, per year:

``bench``    each quarter r1/r2/r3 at 80/90/100 % (12; the project's own schedule)
``annual``   the year r1/r2/r3 at 80/90/100 % (3)
``qa``       quarters r1 at 80 %; quarters r2 + year r1 at 90 % in one run; quarters r3 +
             year r2 at 100 % in one run (14)
``windows``  the default revision calendar in the registry: each quarter once at 80 % after
             it ends, the year r1 at 90 % in January, the final year r2 at 100 % a year later (6)

Reported per country × schedule: the share of scheduled publications refused (and why),
the share of truly non-zero cells published with a number (first publications, revisions),
final numbers out (periods whose last scheduled publication got out), node and door latency,
and with ``--attack`` the independent attacker of ``tests/attacker.py`` (its own LP, not
vanfed's) on every year's whole history.

Run: ``python benchmarks/bench_history.py [--countries KHM,LAO,THA] [--schedules ...]
[--years 10] [--method heuristic|ckm] [--attack]``. Results are merged into
``benchmarks/results/history.json`` (one entry per country × schedule × method).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vanfed import Node
from vanfed.anonymize import DEFAULT_TABLES, build_cube, select_period
from vanfed.ingest import CodedRecords
from vanfed.schema import Policy, RevisionCalendar, Summary, load_mapping
from vanfed.signing import KeyPair, init_registry, key_entry, sign_registry, verify_registry
from vanfed.synthetic import write_export
from vanfed.transport import Inbox, Rejected

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))  # tests/attacker.py, the independent attacker
SCHEDULES = ("bench", "annual", "qa", "windows")
UTC = dt.UTC


@dataclass(frozen=True)
class Step:
    """One run of ``summarize``: when, the share of records known, and its periods."""

    when: dt.datetime
    share: float
    periods: tuple[str, ...]
    final: bool  # the last scheduled publication of these periods


def steps(schedule: str, year: int) -> Iterator[Step]:
    """The runs of one year of a schedule, in time order."""
    quarters = tuple(f"{year}-Q{q}" for q in (1, 2, 3, 4))
    after = dt.datetime(year + 1, 1, 15, tzinfo=UTC)
    if schedule == "bench":
        for r, share in enumerate((0.8, 0.9, 1.0)):
            for i, q in enumerate(quarters):
                yield Step(after + dt.timedelta(days=60 * r, hours=i), share, (q,), r == 2)
    elif schedule == "annual":
        for r, share in enumerate((0.8, 0.9, 1.0)):
            yield Step(after + dt.timedelta(days=120 * r), share, (str(year),), r == 2)
    elif schedule == "qa":
        for i, q in enumerate(quarters):
            yield Step(after + dt.timedelta(hours=i), 0.8, (q,), False)
        yield Step(after + dt.timedelta(days=60), 0.9, (*quarters, str(year)), False)
        yield Step(after + dt.timedelta(days=120), 1.0, (*quarters, str(year)), True)
    elif schedule == "windows":
        for q in (1, 2, 3, 4):
            ends = dt.datetime(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1, tzinfo=UTC)
            yield Step(ends + dt.timedelta(days=20), 0.8, (f"{year}-Q{q}",), True)
        yield Step(dt.datetime(year + 1, 1, 25, tzinfo=UTC), 0.9, (str(year),), False)
        yield Step(dt.datetime(year + 2, 1, 25, tzinfo=UTC), 1.0, (str(year),), True)
    else:
        raise SystemExit(f"unknown schedule {schedule!r}; use one of {', '.join(SCHEDULES)}")


class Keys:
    """Seeded keys and a 2-of-3 registry with the coordinator, its log and one node."""

    def __init__(self, country: str, now: dt.datetime, calendar: RevisionCalendar | None) -> None:
        seed = iter(range(100, 200))
        roots = [KeyPair.from_seed(bytes([next(seed)]) * 32) for _ in range(3)]
        self.coordinator = KeyPair.from_seed(bytes([next(seed)]) * 32)
        self.log = KeyPair.from_seed(bytes([next(seed)]) * 32)
        self.node = KeyPair.from_seed(bytes([next(seed)]) * 32)
        entries = [
            key_entry(self.coordinator.public, "coordinator", now=now),
            key_entry(self.log.public, "log", now=now),
            key_entry(self.node.public, "node", now=now, country=country),
        ]
        registry = init_registry(
            [k.public for k in roots],
            threshold=2,
            now=now,
            keys=entries,
            days=365 * 30,
            policy=Policy(revisions=calendar),
        )
        self.registry = verify_registry(sign_registry(registry, roots[:2]), now=now)


def subset(rec: CodedRecords, keep: np.ndarray) -> CodedRecords:
    ids = None if rec.ids is None else rec.ids[keep]
    return CodedRecords(
        rec.country,
        {f: v[keep] for f, v in rec.fields.items()},
        rec.codes,
        rec.quality,
        rec.source,
        ids=ids,
    )


def shown(summary: Summary, truth: CodedRecords, node: Node) -> tuple[int, int]:
    """(truly non-zero cells published with a number, truly non-zero cells): a suppressed
    cell has no number, a cell key method cell shows one when it is published non-zero."""
    mask = select_period(truth, summary.period, allow_empty=True)
    out = [0, 0]
    for spec, table in zip(DEFAULT_TABLES, summary.tables, strict=True):
        true = build_cube(truth, spec, node.codebook, mask).values.ravel()
        for t, v in zip(true.tolist(), table.values, strict=True):
            if t > 0:
                out[1] += 1
                out[0] += v is not None and v > 0
    return out[0], out[1]


@dataclass
class Tally:
    """Everything measured over one country × schedule."""

    scheduled: int = 0
    refused: list[dict[str, object]] = field(default_factory=list)
    first: list[tuple[int, int]] = field(default_factory=list)
    revisions: list[tuple[int, int]] = field(default_factory=list)
    final: set[str] = field(default_factory=set)
    final_out: set[str] = field(default_factory=set)
    node_s: list[float] = field(default_factory=list)
    door_s: list[float] = field(default_factory=list)
    door_refused: list[str] = field(default_factory=list)
    published: list[Summary] = field(default_factory=list)


def run(country: str, schedule: str, years: int, method: str) -> Tally:
    """Publish ``years`` years of ``schedule`` through the node and the door."""
    work = Path(tempfile.mkdtemp(prefix=f"vanfed-bench-history-{country}-"))
    first_year = 2025 - years
    ex = write_export(country, work / "export", years=range(first_year, 2025), seed=11)
    calendar = RevisionCalendar() if schedule == "windows" else None
    kw = {"method": "ckm"} if method == "ckm" else {}
    node = Node(country, ledger=work / "ledger", calendar=calendar, **kw)  # type: ignore[arg-type]
    start = dt.datetime(first_year, 1, 1, tzinfo=UTC)
    keys = Keys(country, start, calendar)
    rec = node.ingest(ex.path, load_mapping(ex.mapping_path), today=dt.date(2026, 1, 1))
    rank = np.random.default_rng(0).random(len(rec))
    clock = [start]
    inbox = Inbox(
        work / "inbox",
        keys.registry,
        coordinator=keys.coordinator,
        log_key=keys.log,
        now=lambda: clock[0],
    )
    tally = Tally()
    try:
        for year in range(first_year, 2025):
            for step in steps(schedule, year):
                clock[0] = step.when
                _step(node, keys, inbox, subset(rec, rank < step.share), step, tally)
    finally:
        inbox.close()
    return tally


def _step(
    node: Node, keys: Keys, inbox: Inbox, known: CodedRecords, step: Step, tally: Tally
) -> None:
    tally.scheduled += len(step.periods)
    if step.final:
        tally.final |= set(step.periods)
    t0 = time.perf_counter()
    result = node.summarize_many(known, periods=list(step.periods), now=step.when, allow_empty=True)
    per = (time.perf_counter() - t0) / len(step.periods)
    for refused in result.refused:
        tally.refused.append(
            {
                "period": refused.period,
                "revision": refused.revision,
                "reason": refused.reason,
                "message": str(refused.error),
            }
        )
    for summary in result:
        tally.node_s.append(per)
        env = node.sign(summary, keys.node)
        t1 = time.perf_counter()
        try:
            inbox.accept(env)
        except Rejected as exc:
            tally.door_refused.append(f"{summary.period} r{summary.revision}: {exc}")
        tally.door_s.append(time.perf_counter() - t1)
        tally.published.append(summary)
        (tally.first if summary.revision == 1 else tally.revisions).append(
            shown(summary, known, node)
        )
        if step.final:
            tally.final_out.add(summary.period)


def attack(published: list[Summary], *, integer: bool, last: int | None) -> dict[str, object]:
    """The independent attacker on each year's whole history (every assumption), for the
    ``last`` years (all by default: its LP grows with snapshots × cells, so schedules with
    many snapshots take it minutes a year)."""
    from tests.attacker import Attacker

    t0 = time.perf_counter()
    findings: list[str] = []
    years = sorted({s.period[:4] for s in published})[-(last or 0) :]
    for year in years:
        group = [s for s in published if s.period.startswith(year) and not s.protection.ckm]
        if group:
            found = Attacker(group).exposures(k=5, s=5, integer=integer)
            findings += [f"{year}: {e.what} [{e.lo:g}, {e.hi:g}] ({e.assumption})" for e in found]
    return {
        "years": len(years),
        "integer": integer,
        "findings": findings,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def _share(pairs: list[tuple[int, int]]) -> float | None:
    shown_, nonzero = sum(p[0] for p in pairs), sum(p[1] for p in pairs)
    return round(shown_ / nonzero, 4) if nonzero else None


def _q(xs: list[float], q: float) -> float | None:
    return round(float(np.percentile(xs, q)), 3) if xs else None


def summarise(country: str, schedule: str, method: str, t: Tally) -> dict[str, object]:
    reasons: dict[str, int] = {}
    for r in t.refused:
        reasons[str(r["reason"])] = reasons.get(str(r["reason"]), 0) + 1
    return {
        "country": country,
        "schedule": schedule,
        "method": method,
        "scheduled": t.scheduled,
        "refused": len(t.refused),
        "refused_share": round(len(t.refused) / t.scheduled, 4) if t.scheduled else None,
        "refused_by_reason": reasons,
        "cells_first": _share(t.first),
        "cells_revisions": _share(t.revisions),
        "final_out": f"{len(t.final_out)}/{len(t.final)}",
        "hidden_totals": sum(1 for s in t.published if s.protection.total_within),
        "node_s": {"p50": _q(t.node_s, 50), "p95": _q(t.node_s, 95), "max": _q(t.node_s, 100)},
        "door_s": {"p50": _q(t.door_s, 50), "p95": _q(t.door_s, 95), "max": _q(t.door_s, 100)},
        "door_refused": t.door_refused,
        "refusals": t.refused,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--countries", default="KHM,LAO,THA")
    ap.add_argument("--schedules", default="bench,annual,qa,windows")
    ap.add_argument("--years", type=int, default=10)
    ap.add_argument("--method", choices=("heuristic", "ckm"), default="heuristic")
    ap.add_argument("--attack", action="store_true", help="run the independent attacker")
    ap.add_argument("--integer", action="store_true", help="… with its MILP check too")
    ap.add_argument("--attack-years", type=int, default=None, help="… on the last N years")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "history.json")
    args = ap.parse_args()
    old = json.loads(args.out.read_text()) if args.out.exists() else {}
    runs = {(r["country"], r["schedule"], r["method"]): r for r in old.get("runs", [])}
    for country in args.countries.split(","):
        for schedule in args.schedules.split(","):
            t0 = time.perf_counter()
            tally = run(country, schedule, args.years, args.method)
            entry = summarise(country, schedule, args.method, tally)
            entry["years"] = args.years
            entry["wall_s"] = round(time.perf_counter() - t0, 1)
            if args.attack:
                entry["attack"] = attack(
                    tally.published, integer=args.integer, last=args.attack_years
                )
            runs[(country, schedule, args.method)] = entry
            print(json.dumps({k: v for k, v in entry.items() if k != "refusals"}), flush=True)
            kept = {k: v for k, v in old.items() if k != "runs"}  # e.g. "about"
            args.out.write_text(
                json.dumps({**kept, "runs": sorted(runs.values(), key=_key)}, indent=1) + "\n"
            )


def _key(r: dict[str, object]) -> tuple[str, int, str]:
    schedule = str(r["schedule"])
    order = SCHEDULES.index(schedule) if schedule in SCHEDULES else len(SCHEDULES)
    return str(r["country"]), order, str(r["method"])


if __name__ == "__main__":
    main()
