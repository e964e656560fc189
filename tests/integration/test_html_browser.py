"""The regional report in a real browser (headless Chromium): what is drawn is what the tables
publish, every language renders with real glyphs, the PDF prints without cutting a table,
and the audit holds every artifact (PDF included) to the signed digests."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from tests.integration.test_report_trends import vanfed

from vanfed.report import LANGUAGES, render_pdf
from vanfed.schema import RegionalReport, Summary

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
SCRIPTS = {"km": (0x1780, 0x17FF), "lo": (0x0E80, 0x0EFF), "th": (0x0E00, 0x0E7F)}


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("Chromium is not installed (the README test line installs it with apt)")
    return exe


def poppler() -> None:
    if shutil.which("pdfinfo") is None or shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils is not installed (the README test line installs it with apt)")


def page_name(lang: str) -> str:
    return "report.html" if lang == "en" else f"report.{lang}.html"


def dump_dom(exe: str, page: Path, profile: Path) -> str:
    return subprocess.run(
        [exe, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout


class Marks(HTMLParser):
    """Each chart mark in the browser's DOM: its figure's scale, its data, its first rect."""

    def __init__(self) -> None:
        super().__init__()
        self.figure: dict[str, str] = {}
        self.marks: list[dict[str, str]] = []
        self.cells: list[dict[str, str]] = []
        self._open: dict[str, str] | None = None
        self._td: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "td" and "data-cell" in a:
            self._td = {**a, "text": ""}
            self.cells.append(self._td)
        elif tag == "figure":
            self.figure = a
        elif tag == "g" and a.get("class") == "bar":
            self._open = {
                **a,
                "scale": self.figure["data-scale"],
                "base": self.figure["data-baseline"],
            }
            self.marks.append(self._open)
        elif tag == "rect" and self._open is not None and "rect_y" not in self._open:
            self._open["rect_y"], self._open["rect_h"] = a["y"], a["height"]
        elif tag == "text" and self._open is not None:
            self._open["reading"] = ""

    def handle_data(self, data: str) -> None:
        if self._td is not None:
            self._td["text"] += data
        if self._open is not None and "reading" in self._open:
            self._open["reading"] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._td = None
        if tag == "g":
            self._open = None


def test_drawn_values_are_the_published_ones(federation: Path, tmp_path: Path) -> None:
    exe = chromium()
    folder = federation / "regional"
    report = RegionalReport.model_validate_json((folder / "regional.json").read_bytes())
    tables = {t.name: t for t in report.tables}
    html = (folder / "report.html").read_text("utf-8")
    assert "http://" not in html and "https://" not in html and "<script" not in html
    dom = dump_dom(exe, (folder / "report.html").resolve(), tmp_path / "profile")
    for chart in ("chart-country", "chart-device", "chart-sex-age"):
        assert f'id="{chart}"' in dom
    parser = Marks()
    parser.feed(dom)
    assert len(parser.marks) >= 40
    intervals = 0
    for m in parser.marks:
        t, i = tables[m["data-table"]], int(m["data-cell"])
        scale, base = float(m["scale"]), float(m["base"])
        bottom = float(m["rect_y"]) + float(m["rect_h"])
        if m["data-kind"] == "exact":
            assert t.values[i] is not None, "a suppressed cell drawn as an exact bar"
            assert int(m["data-value"]) == t.values[i] and m["reading"] == str(t.values[i])
            assert abs(float(m["rect_h"]) - t.values[i] * scale) < 0.2
            assert abs(bottom - base) < 0.2
            continue
        intervals += 1  # a range from lo to hi (or an arrow), labelled lo–hi, no single number
        assert t.values[i] is None and "data-value" not in m
        hi = "∞" if t.hi[i] is None else str(t.hi[i])
        assert m["reading"] == f"{t.lo[i]}–{hi}"
        assert abs(bottom - (base - t.lo[i] * scale)) < 0.2
        if t.hi[i] is not None:
            assert abs(float(m["rect_y"]) - (base - t.hi[i] * scale)) < 0.2
    assert intervals > 0
    national = {
        p.parent.name: {t.name: t for t in Summary.model_validate_json(p.read_bytes()).tables}
        for p in (federation / "nodes").glob("*/summary.json")
    }
    assert len(parser.cells) > 500
    for td in parser.cells:  # every table cell shows its table's cell, suppressed as such
        if "data-country" in td:
            v = national[td["data-country"]][td["data-table"]].values[int(td["data-cell"])]
            assert td["data-status"] == ("exact" if v is not None else "suppressed")
            assert td["text"] == (str(v) if v is not None else "suppressed")
            continue
        t = tables[td["data-table"]]
        i = int(td["data-cell"])
        if t.values[i] is not None:
            assert td["data-status"] == "exact" and td["text"] == str(t.values[i])
        else:
            hi = "∞" if t.hi[i] is None else str(t.hi[i])
            assert td["data-status"] == "interval" and td["text"] == f"{t.lo[i]}–{hi}"
    assert 'id="provenance"' in dom and "sha256:" in dom and 'id="national-KHM"' in dom


@pytest.mark.parametrize("lang", LANGUAGES)
def test_screenshot_per_language_with_installed_glyphs(
    federation: Path, tmp_path: Path, lang: str
) -> None:
    exe = chromium()
    page = (federation / "regional" / page_name(lang)).resolve()
    text = page.read_text("utf-8")
    assert f'<html lang="{lang}">' in text
    letters = sorted({ch for ch in text if ord(ch) > 0x24F and ch.isalpha()})
    if lang in SCRIPTS:
        lo, hi = SCRIPTS[lang]
        assert sum(lo <= ord(ch) <= hi for ch in letters) > 20
    # each script on the page (the language links name every language in its own script)
    # has an installed font with every one of its letters, so nothing renders as tofu
    groups: dict[str, list[str]] = {}
    for ch in letters:
        script = next((k for k, (a, b) in SCRIPTS.items() if a <= ord(ch) <= b), "other")
        groups.setdefault(script, []).append(f"{ord(ch):x}")
    for script, points in groups.items():
        fonts = subprocess.run(
            ["fc-list", f":charset={' '.join(points)}", "family"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert fonts.strip(), f"{lang}: no installed font has every {script} letter (install fonts)"
    shot = tmp_path / f"report-{lang}.png"
    subprocess.run(
        [
            exe,
            *FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=900,1800",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.stat().st_size > 50_000  # a real picture, kept in the test's output folder


def test_pdf_prints_every_table_whole(federation: Path) -> None:
    exe = chromium()
    poppler()
    pdf = render_pdf((federation / "regional" / "report.html").read_bytes(), chromium=exe)
    out = federation / "regional" / "printed-check.pdf"
    out.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(out)], capture_output=True, text=True, check=True)
    pages = int(re.search(r"Pages:\s+(\d+)", info.stdout).group(1))  # type: ignore[union-attr]
    assert 5 <= pages <= 40, pages  # 15 for the demo (see the report)
    assert "A4" in info.stdout
    seen: list[str] = []
    for p in range(1, pages + 1):
        text = subprocess.run(
            ["pdftotext", "-f", str(p), "-l", str(p), str(out), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        captions = re.findall(r"^Table (\d+)\.", text, re.M)
        sources = re.findall(r"Table (\d+): source", text)
        assert captions == sources, f"page {p}: a table starts or ends on another page"
        seen += captions
    assert seen == [str(n) for n in range(1, len(seen) + 1)] and len(seen) > 20
    boxes = subprocess.run(
        ["pdftotext", "-bbox", str(out), "-"], capture_output=True, text=True, check=True
    ).stdout
    width = float(re.search(r'<page width="([\d.]+)"', boxes).group(1))  # type: ignore[union-attr]
    right = max(float(x) for x in re.findall(r'xMax="([\d.]+)"', boxes))
    assert right <= width - 30, "a table is wider than the page"  # 12 mm margin = 34 pt


def test_merge_pdf_and_languages_are_signed_and_audited(federation: Path, tmp_path: Path) -> None:
    chromium()
    reg = str(federation / "registry.dsse.json")
    inbox = str(federation / "inbox")
    out = tmp_path / "out"

    key = str(federation / "keys" / "coordinator")
    args = ["--registry", reg, "--key", key, "--period", "2024", "--out", str(out)]
    made = vanfed("merge", inbox, *args, "--lang", "km", "--pdf", root=federation)
    assert made.returncode == 0, made.stderr
    names = {p.name for p in out.iterdir()}
    assert {
        "report.html",
        "report.km.html",
        "report.pdf",
        "report.km.pdf",
        "regional.xlsx",
    } <= names
    audit = ["audit", str(out / "regional.dsse.json"), "--inputs", inbox, "--registry", reg]
    ok = vanfed(*audit, root=federation)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    pdf = (out / "report.km.pdf").read_bytes()
    (out / "report.km.pdf").write_bytes(pdf.replace(b"/Producer", b"/Producex", 1))
    bad = vanfed(*audit, root=federation)
    assert bad.returncode == 1 and "report.km.pdf" in bad.stdout + bad.stderr
    bad_lang = vanfed("merge", inbox, *args, "--lang", "fr", root=federation)
    assert bad_lang.returncode == 2 and "--lang 'fr'" in bad_lang.stderr
