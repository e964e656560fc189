"""``report.pdf``: the HTML report printed by headless Chromium (A4, tables never cut).

The page's print CSS does the layout (``@page``, ``break-inside: avoid`` on every captioned
table, repeated table headers). A browser's PDF embeds its own creation time, so a PDF is not
byte-reproducible: the regional report signs its digest, and an auditor checks that digest
and re-renders the HTML it was printed from.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from vanfed.errors import InputError

__all__ = ["CHROMIUM_FLAGS", "find_chromium", "render_pdf"]

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def find_chromium() -> str | None:
    """The Chromium executable on PATH, or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def render_pdf(html: bytes, *, chromium: str | None = None, timeout: float = 180) -> bytes:
    """Print ``html`` to PDF with headless Chromium (a fresh profile, no network).

    Raises:
        InputError: Chromium is not installed, or it failed to print.
    """
    exe = chromium or find_chromium()
    if exe is None:
        raise InputError(
            "report.pdf: Chromium is not installed (apt-get install chromium), or leave out --pdf"
        )
    with tempfile.TemporaryDirectory(prefix="vanfed-pdf-") as tmp:
        page = Path(tmp) / "report.html"
        page.write_bytes(html)
        out = Path(tmp) / "report.pdf"
        cmd = [
            exe,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={Path(tmp) / 'profile'}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={out}",
            page.as_uri(),
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise InputError(f"report.pdf: Chromium could not print: {exc}") from exc
        if not out.is_file() or out.stat().st_size == 0:
            tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            raise InputError(
                f"report.pdf: Chromium exited {proc.returncode} without a PDF: {tail[0]}"
            )
        return out.read_bytes()
