"""The repository stays lint-clean and type-clean (ruff, mypy --strict)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_ruff_clean() -> None:
    proc = run("ruff", "check", "src", "tests", "benchmarks", "scripts")
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_mypy_strict_clean() -> None:
    proc = run("mypy")
    assert proc.returncode == 0, proc.stdout[-3000:]
