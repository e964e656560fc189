"""report.html in a real browser (headless Chromium): charts and tables render, no fetches."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("Chromium is not installed (the README test line installs it with apt)")
    return exe


def test_report_renders_charts_tables_and_provenance(federation: Path, tmp_path: Path) -> None:
    exe = chromium()
    page = (federation / "regional" / "report.html").resolve()
    html = page.read_text("utf-8")
    assert "http://" not in html and "https://" not in html  # self-contained
    common = [exe, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(
        [*common, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    for chart in ("chart-country", "chart-device", "chart-sex-age"):
        assert f'id="{chart}"' in dom
    assert dom.count("<rect") > 10  # bars were laid out
    assert dom.count('class="data"') >= 10  # one table per regional table
    assert 'id="provenance"' in dom and "sha256:" in dom
    shot = tmp_path / "report.png"
    subprocess.run(
        [*common, "--window-size=1200,1600", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.stat().st_size > 20_000  # a real picture, kept in the test's output folder
