"""Ingest throughput and peak memory on large synthetic CSV exports (KHM shape).

For each size: generate the file (once, in benchmarks/data/), then in fresh child processes
(so peak RSS is the run's own) time (a) a bare pyarrow CSV read of every column as strings
and (b) vanfed's full ingest through the mapping. Results: benchmarks/results/ingest.json.

    python benchmarks/bench_ingest.py [ROWS ...]      # default: 1000000 10000000
    python benchmarks/bench_ingest.py --damaged [ROWS ...]   # default: 1000000

``--damaged`` times the same export clean and with one stray quote on its first data line,
which sends the whole file through the exact line-by-line reader instead of pyarrow
(results: benchmarks/results/ingest-damaged.json).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
DATA = HERE / "data"
RESULTS = HERE / "results"

CHILD = r"""
import json, sys, time
mode, path, mapping = sys.argv[1:4]
t = time.perf_counter()
if mode == "bare":
    import pyarrow as pa, pyarrow.csv as c
    with open(path, encoding="utf-8-sig") as fh:
        header = fh.readline().strip().split(",")
    types = dict.fromkeys(header, pa.string())
    r = c.open_csv(path, convert_options=c.ConvertOptions(column_types=types))
    rows = sum(b.num_rows for b in r)
else:
    import datetime as dt
    from vanfed.ingest import ingest
    from vanfed.schema import load_mapping
    rec = ingest(path, load_mapping(mapping), country="KHM", today=dt.date(2026, 11, 22))
    rows = rec.quality.records_read
secs = time.perf_counter() - t
# VmHWM is this process's own high-water mark (ru_maxrss survives exec on Linux)
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({"rows": rows, "seconds": secs, "peak_rss_mb": hwm / 1024}))
"""


def run(mode: str, path: Path, mapping: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(path), str(mapping)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def _mapping() -> Path:
    from vanfed.synthetic import write_export

    DATA.mkdir(exist_ok=True)
    return write_export("KHM", DATA, seed=0).mapping_path


def _clean_csv(n: int) -> Path:
    """The n-row export in benchmarks/data/, generated the first time."""
    from vanfed.synthetic import write_large_csv

    path = DATA / f"khm_{n}.csv"
    if not path.exists():
        t = time.perf_counter()
        write_large_csv(path, n)
        print(f"generated {n:,} rows in {time.perf_counter() - t:.1f}s", file=sys.stderr)
    return path


def _write_results(name: str, about: dict[str, object], results: list[dict[str, float]]) -> None:
    RESULTS.mkdir(exist_ok=True)
    machine = f"{platform.machine()} {platform.python_version()}, 2 cores"
    body = {"machine": machine, **about, "results": results}
    (RESULTS / name).write_text(json.dumps(body, indent=1) + "\n")


def main(sizes: list[int]) -> None:
    mapping = _mapping()
    results = []
    for n in sizes:
        path = _clean_csv(n)
        bare = run("bare", path, mapping)
        full = run("vanfed", path, mapping)
        row = {
            "rows": n,
            "file_mb": round(path.stat().st_size / 2**20, 1),
            "bare_pyarrow_s": round(bare["seconds"], 2),
            "vanfed_ingest_s": round(full["seconds"], 2),
            "vanfed_rows_per_s": round(n / full["seconds"]),
            "ratio_to_bare": round(bare["seconds"] / full["seconds"], 3),
            "vanfed_peak_rss_mb": round(full["peak_rss_mb"]),
            "bare_peak_rss_mb": round(bare["peak_rss_mb"]),
        }
        print(json.dumps(row), file=sys.stderr)
        results.append(row)
    goals = "ratio_to_bare >= 0.333; peak RSS at 10M rows < 600 MB"
    _write_results("ingest.json", {"goals": goals}, results)


def damaged(sizes: list[int]) -> None:
    mapping = _mapping()
    results = []
    for n in sizes:
        path = _clean_csv(n)
        bad = DATA / f"khm_{n}_stray_quote.csv"
        if not bad.exists():
            with path.open("rb") as src, bad.open("wb") as dst:
                dst.write(src.readline())
                line = src.readline()
                cut = line.index(b",") + 1
                dst.write(line[:cut] + b'"never closed\n')  # an unclosed quote on line 2
                while block := src.read(1 << 20):
                    dst.write(block)
        clean, exact = run("vanfed", path, mapping), run("vanfed", bad, mapping)
        row = {
            "rows": n,
            "clean_s": round(clean["seconds"], 2),
            "stray_quote_s": round(exact["seconds"], 2),
            "stray_quote_rows_per_s": round(n / exact["seconds"]),
            "stray_quote_peak_rss_mb": round(exact["peak_rss_mb"]),
            "rows_read": exact["rows"],
        }
        print(json.dumps(row), file=sys.stderr)
        results.append(row)
    about = {
        "what": "one stray quote on line 2: the whole file through the exact reader",
        "load_average_1min": round(os.getloadavg()[0], 1),  # a shared machine
    }
    _write_results("ingest-damaged.json", about, results)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--damaged"]:
        damaged([int(a) for a in sys.argv[2:]] or [1_000_000])
    else:
        main([int(a) for a in sys.argv[1:]] or [1_000_000, 10_000_000])
