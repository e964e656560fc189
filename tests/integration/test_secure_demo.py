"""``vanfed demo --secure --http``: the main job's secure variant over a real service."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from vanfed._demo import run_demo
from vanfed.anonymize import DEFAULT_TABLES
from vanfed.schema import load_codebook
from vanfed.secure import regional_tables


def test_demo_runs_a_secure_round_over_http(tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)  # the service keeps real time
    result = run_demo(
        tmp_path, now=now, seed=7, langs=("en",), http=True, secure=True,
        serve_command=(sys.executable, "-m", "vanfed"),
    )  # fmt: skip
    assert result.verdict is not None and result.verdict.ok, result.verdict.reasons
    assert result.delivery.startswith("HTTP to http://127.0.0.1:")
    report = result.regional.report if result.regional else None
    assert report is not None and report.secure is not None
    assert report.secure.round_id == result.round_id
    names = {t.name for t in regional_tables(DEFAULT_TABLES, load_codebook())}
    assert set(report.secure.tables) == names and not report.secure.withheld
    for c in report.secure.participants:  # each node holds the receipt of its contribution
        assert (tmp_path / "nodes" / c / "contribution.receipt.dsse.json").stat().st_size > 0
    assert any("secure round" in line for line in result.verdict.checked)
