"""Transparency log: appends per second and proof sizes at 10^3, 10^5 and 10^6 entries.

For each size n: the time to append n entries (batched fsync, as a bulk import would), the
rate of durable appends (fsync each, as the service does) at that size, the time to reopen
the log (rebuild and check against every checkpoint), and the inclusion and consistency
proof sizes and generation times — proofs must grow as log2 n.
Results: benchmarks/results/log.json.

    python benchmarks/bench_log.py [N ...]
"""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path
from random import Random

from vanfed.testing import Trust
from vanfed.tlog import TransparencyLog, verify_consistency, verify_inclusion

HERE = Path(__file__).parent


def one(n: int, trust: Trust) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="vanfed-log-"))
    rng = Random(n)
    entries = [rng.randbytes(200) for _ in range(min(n, 10_000))]
    try:
        log = TransparencyLog(
            folder, origin="bench/log", signer=trust.log, public=trust.log.public.raw
        )
        t0 = time.perf_counter()
        for i in range(n):
            log.append(entries[i % len(entries)] + i.to_bytes(8, "big"), 1_800_000_000)
        log.sync()
        log.checkpoint()
        bulk = time.perf_counter() - t0
        durable = 200
        t0 = time.perf_counter()
        for i in range(durable):
            log.append(b"durable %d" % i, 1_800_000_000)
            log.checkpoint()  # every acceptance signs a checkpoint, as the service does
        durable_rate = durable / (time.perf_counter() - t0)
        size = log.tree.size
        log.close()
        t0 = time.perf_counter()
        log = TransparencyLog(
            folder, origin="bench/log", signer=trust.log, public=trust.log.public.raw
        )
        reopen = time.perf_counter() - t0
        index = rng.randrange(size)
        t0 = time.perf_counter()
        inclusion = log.tree.inclusion_proof(index, size)
        inc_ms = (time.perf_counter() - t0) * 1000
        first = size // 2 + 1
        t0 = time.perf_counter()
        consistency = log.tree.consistency_proof(first, size)
        cons_ms = (time.perf_counter() - t0) * 1000
        root = log.tree.root()
        assert verify_inclusion(log.tree.leaf(index), index, size, inclusion, root)
        assert verify_consistency(first, size, log.tree.root(first), root, consistency)
        log.close()
        return {
            "entries": n,
            "bulk_appends_per_s": round(n / bulk),
            "durable_appends_per_s_with_checkpoint": round(durable_rate),
            "reopen_s": round(reopen, 3),
            "log_bytes": sum(f.stat().st_size for f in folder.iterdir()),
            "inclusion_hashes": len(inclusion),
            "inclusion_bytes": 32 * len(inclusion),
            "inclusion_ms": round(inc_ms, 3),
            "consistency_hashes": len(consistency),
            "consistency_bytes": 32 * len(consistency),
            "consistency_ms": round(cons_ms, 3),
            "ceil_log2_n": math.ceil(math.log2(size)),
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(sizes: list[int]) -> None:
    trust = Trust()
    rows = [one(n, trust) for n in sizes]
    for r in rows:  # proofs grow as log n, never faster
        assert r["inclusion_hashes"] <= r["ceil_log2_n"]
        assert r["consistency_hashes"] <= 2 * r["ceil_log2_n"]
    result = {
        "sizes": rows,
        "measured_at": dt.date.today().isoformat(),
    }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "log.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1_000, 100_000, 1_000_000])
