"""History audit at the coordinator's door: accept latency as a country's history grows.

A country publishes 10 years × 4 quarters × 3 revisions of the default linked tables (each
revision adds the records that arrived late), protected at the node jointly with its ledger
and submitted through the coordinator's real door (``Inbox.accept``: verify, the summary's
own re-audit, the history re-audit, write, log, receipt). We record, per submission, the
door's latency and the history length it was checked against.

Run: ``python benchmarks/bench_history.py [years]`` → ``benchmarks/results/history.json``.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from vanfed import Node
from vanfed.ingest import CodedRecords
from vanfed.schema import load_mapping
from vanfed.signing import KeyPair, init_registry, key_entry, sign_registry, verify_registry
from vanfed.synthetic import write_export
from vanfed.transport import Inbox

HERE = Path(__file__).parent
COUNTRY = "KHM"
SHARES = (0.8, 0.9, 1.0)  # of each quarter's records known at revisions 1, 2, 3


def subset(rec: CodedRecords, keep: np.ndarray) -> CodedRecords:
    return CodedRecords(
        rec.country, {f: v[keep] for f, v in rec.fields.items()}, rec.codes, rec.quality, rec.source
    )


class Keys:
    """Seeded keys and a 2-of-3 registry with the coordinator, its log and one node."""

    def __init__(self, now: dt.datetime) -> None:
        seed = iter(range(100, 200))
        roots = [KeyPair.from_seed(bytes([next(seed)]) * 32) for _ in range(3)]
        self.coordinator = KeyPair.from_seed(bytes([next(seed)]) * 32)
        self.log = KeyPair.from_seed(bytes([next(seed)]) * 32)
        self.node = KeyPair.from_seed(bytes([next(seed)]) * 32)
        entries = [
            key_entry(self.coordinator.public, "coordinator", now=now),
            key_entry(self.log.public, "log", now=now),
            key_entry(self.node.public, "node", now=now, country=COUNTRY),
        ]
        registry = init_registry([k.public for k in roots], threshold=2, now=now, keys=entries)
        self.registry = verify_registry(sign_registry(registry, roots[:2]), now=now)


def main(years: int) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix="vanfed-bench-history-"))
    first = 2025 - years
    ex = write_export(COUNTRY, work / "export", years=range(first, 2025), seed=11)
    node = Node(COUNTRY, ledger=work / "ledger")
    now0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    keys = Keys(now0 - dt.timedelta(days=1))
    rec = node.ingest(ex.path, load_mapping(ex.mapping_path), today=now0.date())
    rank = np.random.default_rng(0).random(len(rec))  # when each record reached the node
    inbox = Inbox(
        work / "inbox",
        keys.registry,
        coordinator=keys.coordinator,
        log_key=keys.log,
        now=lambda: now0,
    )
    rows = []
    clock = now0
    try:
        for year in range(first, 2025):
            for r, share in enumerate(SHARES, start=1):
                known = subset(rec, rank < share)
                for q in (1, 2, 3, 4):
                    clock += dt.timedelta(hours=1)
                    period = f"{year}-Q{q}"
                    t0 = time.perf_counter()
                    try:
                        summary = node.summarize(known, period=period, now=clock, allow_empty=True)
                    except Exception as exc:  # refused at the node: say so and go on
                        rows.append({"period": period, "revision": r, "node": repr(exc)})
                        continue
                    env = node.sign(summary, keys.node)
                    t1 = time.perf_counter()
                    accepted = inbox.accept(env)
                    t2 = time.perf_counter()
                    rows.append(
                        {
                            "period": period,
                            "revision": summary.revision,
                            "log_size": accepted.index + 1,
                            "same_year_history": sum(
                                1
                                for e in node.ledger.entries(COUNTRY)
                                if e.summary.period.startswith(str(year))
                            )
                            - 1,
                            "node_s": round(t1 - t0, 3),
                            "door_s": round(t2 - t1, 3),
                        }
                    )
                    print(rows[-1], flush=True)
    finally:
        inbox.close()
    done = [r for r in rows if "door_s" in r]
    door = [r["door_s"] for r in done]
    by_year_len = {}
    for r in done:
        by_year_len.setdefault(r["same_year_history"], []).append(r["door_s"])
    first_year = [r["door_s"] for r in done if r["period"].startswith(str(first))]
    last_year = [r["door_s"] for r in done if r["period"].startswith("2024")]
    return {
        "country": COUNTRY,
        "publications": len(done),
        "refused_at_node": [r for r in rows if "node" in r],
        "door_latency_s": {
            "p50": statistics.median(door),
            "p95": float(np.percentile(door, 95)),
            "max": max(door),
            "first_year_mean": statistics.mean(first_year),
            "last_year_mean": statistics.mean(last_year),
        },
        "door_s_by_same_year_history": {
            str(k): round(statistics.mean(v), 3) for k, v in sorted(by_year_len.items())
        },
        "node_s_p50": statistics.median(r["node_s"] for r in done),
        "rows": rows,
    }


if __name__ == "__main__":
    result = main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
    out = HERE / "results" / "history.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}, indent=2))
