"""The secure demo's report in real Chromium: what a person sees of the estimates.

The page itself has no script; a test copy gets one that measures the laid-out page (the
browser's own boxes of each error bar, bar, label and table cell) and writes the numbers
into the DOM that ``--dump-dom`` returns. Printing checks every language on A4.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path

import pytest
from tests.integration.test_html_browser import FLAGS, chromium, dump_dom, page_name, poppler

from vanfed.report import LANGUAGES, Labels, render_pdf
from vanfed.schema import RegionalReport, load_codebook
from vanfed.testing import NOW

MEASURE = """<script>
const box = (el) => { const r = el.getBoundingClientRect();
  return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; };
const out = {bars: [], labels: [], cells: [], page: {}};
for (const fig of document.querySelectorAll("figure.chart")) {
  const svg = fig.querySelector("svg");
  const zoom = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
  const base = svg.getBoundingClientRect().top + zoom * Number(fig.dataset.baseline);
  for (const g of fig.querySelectorAll("g.bar")) {
    out.labels.push({figure: fig.id, kind: g.dataset.kind, text: g.querySelector("text").textContent,
                     box: box(g.querySelector("text"))});
    if (g.dataset.kind !== "estimate") continue;
    out.bars.push({figure: fig.id, table: g.dataset.table, cell: Number(g.dataset.cell),
      value: Number(g.dataset.value), margin: Number(g.dataset.margin),
      lo: Number(g.dataset.lo), hi: Number(g.dataset.hi), px: zoom * Number(fig.dataset.scale),
      base: base, rect: box(g.querySelector("rect")), error: box(g.querySelector("line.error")),
      caps: [...g.querySelectorAll("line:not(.error)")].map(box), label: box(g.querySelector("text"))});
  }
}
for (const td of document.querySelectorAll("td.estimate")) {
  const range = document.createRange();
  range.selectNodeContents(td.firstChild);
  out.cells.push({text: td.textContent, number: box(range), margin: box(td.querySelector("small")),
    overflow: td.scrollWidth > td.clientWidth, background: getComputedStyle(td).backgroundColor});
}
out.page = {width: document.documentElement.scrollWidth, viewport: window.innerWidth};
const pre = document.createElement("pre");
pre.id = "measure";
pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
</script>"""


@pytest.fixture(scope="module")
def secure_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo federation with a secure round (its region rows are estimates)."""
    from vanfed._demo import run_demo

    out = tmp_path_factory.mktemp("secure-demo")
    result = run_demo(out, now=NOW, seed=7, secure=True)
    assert result.verdict is not None and result.verdict.ok, result.verdict
    return out


def _report(demo: Path) -> RegionalReport:
    return RegionalReport.model_validate_json((demo / "regional" / "regional.json").read_bytes())


def _measure(exe: str, page: Path, tmp: Path) -> dict:
    copy = tmp / f"measured-{page.name}"
    copy.write_text(page.read_text("utf-8").replace("</body>", MEASURE + "</body>"), "utf-8")
    out = dump_dom(exe, copy, tmp / "profile")
    found = re.search(r'<pre id="measure">(.*?)</pre>', out, re.S)
    assert found, "the measuring script did not run"
    return json.loads(html.unescape(found.group(1)))


def _overlap(a: dict, b: dict, slack: float = 0.5) -> bool:
    return (
        a["left"] < b["right"] - slack
        and b["left"] < a["right"] - slack
        and a["top"] < b["bottom"] - slack
        and b["top"] < a["bottom"] - slack
    )


def test_error_bars_and_margins_as_laid_out_by_the_browser(
    secure_demo: Path, tmp_path: Path
) -> None:
    exe = chromium()
    report = _report(secure_demo)
    tables = {t.name: t for t in report.tables}
    m = _measure(exe, (secure_demo / "regional" / "report.html").resolve(), tmp_path)
    assert len(m["bars"]) >= 10
    for bar in m["bars"]:
        t, i = tables[bar["table"]], bar["cell"]
        assert t.estimated[i] and (bar["value"], bar["margin"]) == (t.values[i], t.margin[i])  # type: ignore[index]
        px, rect, err = bar["px"], bar["rect"], bar["error"]
        # the bar stands on the axis and reaches the estimate
        assert abs(rect["bottom"] - bar["base"]) < 0.6
        assert abs((rect["bottom"] - rect["top"]) - bar["value"] * px) < 0.6
        # the error bar spans lo..hi at the chart's scale (a small margin stays small: its
        # two caps then meet in one dark tick at the top of the bar, still to be seen)
        assert abs((err["bottom"] - err["top"]) - (bar["hi"] - bar["lo"]) * px) < 0.6
        assert rect["left"] < err["left"] < rect["right"]
        assert len(bar["caps"]) == 2
        for cap, end in zip(bar["caps"], ("bottom", "top"), strict=True):
            assert cap["right"] - cap["left"] >= 4, "a cap too narrow to see"
            assert abs(cap["top"] - err[end]) < 0.6
        assert err["top"] - 0.6 <= rect["top"] <= err["bottom"] + 0.6  # the estimate inside it
        assert bar["label"]["bottom"] <= err["top"] + 0.6  # its label above it, not on it
    for fig in {lab["figure"] for lab in m["labels"]}:  # no label hides another
        labels = [lab for lab in m["labels"] if lab["figure"] == fig]
        for k, a in enumerate(labels):
            for b in labels[k + 1 :]:
                if "estimate" in (a["kind"], b["kind"]):
                    assert not _overlap(a["box"], b["box"]), (fig, a["text"], b["text"])
    estimates = sum(sum(t.estimated or ()) for t in report.tables)
    assert len(m["cells"]) == estimates > 50
    for cell in m["cells"]:
        assert re.fullmatch(r"\d+\u00a0±\d+", cell["text"]), cell["text"]
        n, g = cell["number"], cell["margin"]
        assert n["bottom"] > g["top"] and g["bottom"] > n["top"], "the margin wrapped"
        assert g["left"] >= n["right"] - 0.5 and not cell["overflow"]
        assert cell["background"] == "rgb(227, 241, 230)"
    assert m["page"]["width"] <= m["page"]["viewport"], "the page scrolls sideways"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_language_prints_the_estimates_on_a4(
    secure_demo: Path, tmp_path: Path, lang: str
) -> None:
    exe = chromium()
    poppler()
    report = _report(secure_demo)
    lab = Labels(load_codebook(), lang)
    page = (secure_demo / "regional" / page_name(lang)).resolve()
    source = page.read_text("utf-8")
    assert lab.ui("secure") in source and lab.ui("legend_estimate") in source
    assert "<script" not in source and "http://" not in source and "https://" not in source
    pdf = tmp_path / f"report-{lang}.pdf"
    pdf.write_bytes(render_pdf(page.read_bytes(), chromium=exe))
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    assert "A4" in info.stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info.stdout).group(1))  # type: ignore[union-attr]
    assert 5 <= pages <= 40, pages
    boxes = subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    width = float(re.search(r'<page width="([\d.]+)"', boxes).group(1))  # type: ignore[union-attr]
    right = max(float(x) for x in re.findall(r'xMax="([\d.]+)"', boxes))
    assert right <= width - 30, "something is wider than the page"  # 12 mm margin = 34 pt
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout.replace("\u00a0", " ")
    t = next(t for t in report.tables if t.estimated and any(t.estimated))
    i = t.estimated.index(True)  # type: ignore[union-attr]
    assert f"{t.values[i]} ±{t.margin[i]}" in text  # type: ignore[index]
    assert re.search(r"ε = \d+\.\d", text) and "Skellam" in text
    if lang == "en":  # each table whole on one page, the estimated ones with their note
        for p in range(1, pages + 1):
            one = subprocess.run(
                ["pdftotext", "-f", str(p), "-l", str(p), str(pdf), "-"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            captions = re.findall(r"^Table (\d+)\.", one, re.M)
            assert captions == re.findall(r"Table (\d+): source", one), f"page {p}: a table cut"
        assert text.count("Region: estimated from a secure round of 5 countries") >= 11
    shot = tmp_path / f"secure-{lang}.png"
    subprocess.run(
        [exe, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=900,2400",
         f"--screenshot={shot}", page.as_uri()],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    assert shot.stat().st_size > 50_000  # a real picture, kept in the test's output folder
