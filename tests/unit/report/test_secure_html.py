"""The secure path's estimates on the HTML page: each estimated cell reads ``value ±margin``,
charts draw it as a bar with an error bar (never a hatched range), and a section says who took
part, that no one saw another country's counts, the noise and the privacy statement."""

from __future__ import annotations

import pytest
from tests.unit.report._dom import El, dom

from vanfed.anonymize import DEFAULT_TABLES
from vanfed.report import LANGUAGES, Labels, render_html
from vanfed.report._svg import colour
from vanfed.schema import Omitted, RegionalReport, load_codebook
from vanfed.secure import epsilon, regional_tables, round_rdp

CB = load_codebook()
NBSP = "\u00a0"


def _page(report: RegionalReport, secure, lang: str = "en") -> El:
    return dom(render_html(report, CB, summaries=secure.summaries, lang=lang, languages=LANGUAGES))


@pytest.mark.parametrize("which", ["report", "partial"])
def test_every_region_cell_shows_what_the_table_holds(secure, which: str) -> None:
    report: RegionalReport = getattr(secure, which)
    tables = {t.name: t for t in report.tables}
    tds = [td for td in _page(report, secure).find("td") if "data-cell" in td.attrs]
    regional = [td for td in tds if "data-country" not in td.attrs]
    assert len(regional) == sum(len(t.values) for t in report.tables)  # each cell once
    seen = 0
    for td in regional:
        t, i = tables[td.attrs["data-table"]], int(td.attrs["data-cell"])
        v = t.values[i]
        if t.estimated and t.estimated[i]:
            seen += 1
            m = t.margin[i]  # type: ignore[index]
            assert td.attrs["data-status"] == "estimate" and "estimate" in td.classes()
            assert td.text == f"{v}{NBSP}±{m}"  # one line: 1185 ±4
            assert (td.attrs["data-value"], td.attrs["data-margin"]) == (str(v), str(m))
            assert int(td.attrs["data-lo"]) == t.lo[i] <= v  # type: ignore[operator]
            assert td.attrs["data-hi"] == ("" if t.hi[i] is None else str(t.hi[i]))
        elif v is not None:
            assert td.attrs["data-status"] == "exact" and td.text == str(v)
        else:
            assert td.attrs["data-status"] == "interval" and "±" not in td.text
    assert seen == sum(sum(t.estimated or ()) for t in report.tables) > 50


def test_only_blocks_with_estimates_say_where_they_come_from(secure) -> None:
    for report, n in ((secure.report, 5), (secure.partial, 4)):
        note = f"Region: estimated from a secure round of {n} countries; ± is the 90{NBSP}% margin"
        blocks = _page(report, secure).find("section", "tbl")
        marked = 0
        for block in blocks:
            shows = any(td.attrs.get("data-status") == "estimate" for td in block.find("td"))
            notes = block.find("p", "estimated")
            assert len(notes) == shows, block.find("p", "caption")[0].text
            if shows:
                marked += 1
                assert notes[0].text.startswith(note)
        assert marked >= 11  # every regional table's region row (and the region blocks)
        assert marked < len(blocks)  # the countries' blocks are as they published them


def _figures(page: El) -> dict[str, El]:
    return {f.attrs["id"]: f for f in page.find("figure")}


def test_charts_draw_an_estimate_as_a_bar_with_an_error_bar(secure) -> None:
    report = secure.report
    tables = {t.name: t for t in report.tables}
    figures = _figures(_page(report, secure))
    drawn = 0
    for fid, fig in figures.items():
        scale, base = float(fig.attrs["data-scale"]), float(fig.attrs["data-baseline"])
        legend = fig.find("div", "legend")[0]
        swatches = {r.attrs["fill"] for r in legend.find("rect") if "url(" not in r.attrs["fill"]}
        marks = [g for g in fig.find("g", "bar") if g.attrs["data-kind"] == "estimate"]
        assert ("estimate ± 90" in legend.text) == bool(marks), fid  # a key only when drawn
        for g in marks:
            drawn += 1
            t, i = tables[g.attrs["data-table"]], int(g.attrs["data-cell"])
            v, m = t.values[i], t.margin[i]  # type: ignore[index]
            assert t.estimated[i] and v is not None  # type: ignore[index]
            lo, hi = max(v - m, t.lo[i]), v + m if t.hi[i] is None else min(v + m, t.hi[i])
            assert (int(g.attrs["data-value"]), int(g.attrs["data-margin"])) == (v, m)
            assert (int(g.attrs["data-lo"]), int(g.attrs["data-hi"])) == (lo, hi)
            rect = g.find("rect")[0]
            assert "url(" not in rect.attrs["fill"] and rect.attrs["fill"] in swatches
            assert abs(float(rect.attrs["height"]) - v * scale) < 0.15  # the bar: 0 to value
            assert abs(float(rect.attrs["y"]) + float(rect.attrs["height"]) - base) < 0.15
            err = g.find("line", "error")[0]
            assert abs(float(err.attrs["y1"]) - (base - hi * scale)) < 0.15
            assert abs(float(err.attrs["y2"]) - (base - lo * scale)) < 0.15
            assert len(g.find("line")) == 3  # the error bar and its two caps
            assert g.find("text")[0].text == f"{v}±{m}"
    assert drawn >= 10
    country = figures["chart-country"]  # countries' own rows: never an estimate
    assert {g.attrs["data-kind"] for g in country.find("g", "bar")} <= {"exact", "interval"}


def test_same_colour_same_code_for_estimates_and_exact_bars(secure) -> None:
    fig = _figures(_page(secure.report, secure))["chart-device"]
    fills: dict[str, set[str]] = {}
    for g in fig.find("g", "bar"):
        fills.setdefault(g.attrs["data-kind"], set()).add(g.find("rect")[0].attrs["fill"])
    allowed = {colour("outcome", c) for c in ("killed", "injured", "_U")}
    assert fills["estimate"] <= allowed and fills["estimate"] & fills["exact"]


def test_a_report_without_a_round_shows_nothing_of_it(secure) -> None:
    page = render_html(secure.plain, CB, summaries=secure.summaries).decode()
    for marker in ("estimate", "±", 'id="secure"', "Skellam", "#secure"):
        assert marker not in page, marker


def _expected_epsilon(report: RegionalReport) -> float:
    """The round's ε from the announcement's own tables (not the report's)."""
    noise = report.secure.noise  # type: ignore[union-attr]
    return epsilon(round_rdp(regional_tables(DEFAULT_TABLES, CB), noise), noise.delta)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_secure_section_states_who_what_noise_and_privacy(secure, lang: str) -> None:
    report = secure.report
    record = report.secure
    lab = Labels(CB, lang)
    page = _page(report, secure, lang)
    raw = render_html(report, CB, summaries=secure.summaries, lang=lang).decode()
    assert raw.index('id="coverage"') < raw.index('id="secure"') < raw.index('id="charts"')
    assert '<a href="#secure">' in raw  # in the contents
    section = next(d for d in page.find("div", "secure"))
    text = section.text
    eps = _expected_epsilon(report)
    assert record.epsilon == f"{eps:.1f}"  # the round's own figure, as the audit gives it
    assert f"ε = {eps:.1f}" in text and "δ = 10⁻⁶" in text
    assert "Skellam" in text and "2.5" in text and f" {record.noise.margin_factor} " in text
    assert "ARMAC" in text
    for c in record.participants:
        assert lab.country(c) in text
    assert lab.ui("secure_masks") in text
    assert "120 ±4" in text  # how an estimate reads
    assert "{" not in text and "}" not in text  # every placeholder filled
    assert text.rstrip().endswith(lab.ui("none"))  # no table left on the national path
    tail = raw[raw.index('id="provenance"') :]
    assert record.round_id in tail and record.announcement in tail and record.result in tail
    for c in record.contributions:
        assert c.envelope_sha256 in tail
    if lang == "en":
        assert "up to 1 of the participating countries" in text
        assert "Cambodia, Lao PDR, Myanmar, Thailand, Viet Nam" in text


def test_withheld_tables_are_named_with_their_reason(secure) -> None:
    record = secure.partial.secure
    left = Omitted(country="_T", table="casualties_by_status", reason="stale_round",
                   message="the round names other summaries of ['THA']")  # fmt: skip
    report = secure.partial.model_copy(
        update={"secure": record.model_copy(update={"withheld": (left,)})}
    )
    section = next(d for d in _page(report, secure).find("div", "secure"))
    items = [li.text for li in section.find("li")]
    assert items == [
        "Casualties by civilian status and outcome (casualties_by_status): stale_round — "
        "the round names other summaries of ['THA']"
    ]
    assert "among 4 countries: Lao PDR, Myanmar, Thailand, Viet Nam" in section.text


def test_secure_pages_are_deterministic_and_self_contained(secure) -> None:
    for lang in LANGUAGES:
        a = render_html(secure.report, CB, summaries=secure.summaries, lang=lang)
        assert a == render_html(secure.report, CB, summaries=secure.summaries, lang=lang)
        text = a.decode()
        assert "<script" not in text and "http://" not in text and "https://" not in text
