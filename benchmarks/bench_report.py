"""Regional report rendering: time and size of each artifact, PDF pages per language.

The demo federation (five synthetic member states, seed 7) is merged once; each renderer
then runs a few times on the same report and inputs (median CPU seconds), and headless
Chromium prints each language once (wall seconds, pages from ``pdfinfo``).
Results: benchmarks/results/report.json.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from vanfed._demo import run_demo
from vanfed.report import (
    LANGUAGES,
    find_chromium,
    render_csv,
    render_html,
    render_pdf,
    render_xlsx,
)
from vanfed.schema import RegionalReport, Summary, load_codebook
from vanfed.testing import NOW

HERE = Path(__file__).parent


def _cpu(fn: object, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t = time.process_time()
        fn()  # type: ignore[operator]
        times.append(time.process_time() - t)
    return round(statistics.median(times), 4)


def main() -> None:
    cb = load_codebook()
    with tempfile.TemporaryDirectory() as tmp:
        run_demo(tmp, now=NOW, seed=7, langs=("en",))
        folder = Path(tmp)
        report = RegionalReport.model_validate_json(
            (folder / "regional" / "regional.json").read_bytes()
        )
        sums = [
            Summary.model_validate_json(p.read_bytes())
            for p in sorted((folder / "nodes").glob("*/summary.json"))
        ]
        result: dict[str, object] = {
            "countries": len(sums),
            "regional_cells": sum(len(t.values) for t in report.tables),
            "csv": {
                "cpu_s": _cpu(lambda: render_csv(report, cb, summaries=sums)),
                "bytes": len(render_csv(report, cb, summaries=sums)),
            },
            "xlsx": {
                "cpu_s": _cpu(lambda: render_xlsx(report, cb, summaries=sums), 3),
                "bytes": len(render_xlsx(report, cb, summaries=sums)),
            },
        }
        html: dict[str, object] = {}
        pdf: dict[str, object] = {}
        for lang in LANGUAGES:
            page = render_html(report, cb, summaries=sums, lang=lang)
            html[lang] = {
                "cpu_s": _cpu(lambda lang=lang: render_html(report, cb, summaries=sums, lang=lang)),
                "bytes": len(page),
            }
            if find_chromium():
                t = time.perf_counter()
                printed = render_pdf(page)
                out = folder / f"report.{lang}.pdf"
                out.write_bytes(printed)
                info = subprocess.run(
                    ["pdfinfo", str(out)], capture_output=True, text=True, check=True
                )
                pages = re.search(r"Pages:\s+(\d+)", info.stdout)
                pdf[lang] = {
                    "wall_s": round(time.perf_counter() - t, 2),
                    "bytes": len(printed),
                    "pages": int(pages.group(1)) if pages else None,
                }
        result["html"] = html
        result["pdf"] = pdf
    result["measured_at"] = dt.date.today().isoformat()
    out_file = HERE / "results" / "report.json"
    out_file.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
