"""``report.html``: one self-contained page (inline SVG and CSS, no script, no fetch).

Sections: coverage, the secure round when the report has one (who took part, the noise, the
privacy statement, the tables left on the national path: :mod:`vanfed.report._secure`),
charts (exact values as bars, intervals as hatched ranges, estimates as bars with error
bars), the regional tables with human labels, one section per reporting country with the
tables that only the national summary carries (admin-1), and provenance an auditor can
follow to each signed envelope (and the round's contributions) and the transparency log.
The same page prints (``@page`` A4, blocks never cut).
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from vanfed.report._charts import regional_charts
from vanfed.report._grid import national_only
from vanfed.report._labels import Labels
from vanfed.report._secure import provenance as secure_provenance
from vanfed.report._secure import section as secure_section
from vanfed.report._secure import table_note
from vanfed.report._tables_html import table_blocks
from vanfed.schema import Codebook, RegionalReport, Summary

__all__ = ["page", "render_html"]

FONTS = (
    '"DejaVu Sans","Noto Sans","Khmer OS System","Khmer OS","Noto Sans Khmer",'
    '"Phetsarath OT","Noto Sans Lao","Loma","Garuda","Noto Sans Thai",sans-serif'
)
CSS = (
    "@page{size:A4;margin:12mm}"
    f"body{{font-family:{FONTS};margin:1.5rem;color:#222;max-width:720px}}"
    "h1{font-size:1.3rem}h2{font-size:1.1rem;margin-top:1.6rem;border-bottom:1px solid #ccc;"
    "break-after:avoid}h3{font-size:1rem;break-after:avoid}"
    "table{border-collapse:collapse;font-size:8.5pt;margin:.2rem 0}"
    "thead{display:table-header-group}tr{break-inside:avoid}"
    "td,th{border:1px solid #ccc;padding:.1rem .35rem;text-align:right}"
    "th{background:#f3f3f3;font-weight:normal}th.rowhead,th[scope=row]{text-align:left}"
    "td.interval{background:#fbeecb;font-style:italic}td.perturbed{background:#eef4ff}"
    "td.suppressed{color:#777;font-style:italic}"
    "tr.total th,tr.total td,td.total{font-weight:bold}"
    ".tbl,.chart,.keep{break-inside:avoid}.caption{font-weight:bold;margin:.8rem 0 .2rem}"
    ".source,.note{color:#555;font-size:8pt;margin:.1rem 0 .6rem}"
    ".legend{font-size:8.5pt}.legend .key{display:inline-block;margin-right:.8rem}"
    "figure{margin:.6rem 0}figcaption{font-weight:bold;font-size:.9rem}"
    "code,pre{font-size:7.5pt;word-break:break-all;white-space:pre-wrap}"
    ".national{break-before:page}a{color:#2166ac}@media print{.nav{display:none}}"
    "div.group{font-size:9px;line-height:1.15;text-align:center;overflow:hidden;height:100%}"
)

# Only in a page with secure-path estimates: a page without them keeps the bytes it was
# signed with (the audit re-renders it).
SECURE_CSS = (
    "td.estimate{background:#e3f1e6;white-space:nowrap}td.estimate small{color:#46604b}"
    ".secure{font-size:9.5pt}.secure p{margin:.35rem 0}"
)


def _e(text: object) -> str:
    return html.escape(str(text))


def page(title: str, body: str, lang: str, *, secure: bool = False) -> bytes:
    """The HTML document around ``body`` (deterministic bytes); ``secure`` adds the style
    of estimates."""
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width">'
        f"<title>{_e(title)}</title><style>{CSS}{SECURE_CSS if secure else ''}</style></head>"
        f"<body>{body}</body></html>\n"
    ).encode()


def _coverage(report: RegionalReport, summaries: Sequence[Summary], lab: Labels) -> str:
    by = {s.country: s for s in summaries}
    rows = []
    for ref in report.inputs:
        p = by[ref.country].protection if ref.country in by else None
        rows.append(
            f"<tr><th scope='row'>{_e(lab.country(ref.country))}</th>"
            f"<td>{_e(lab.ui('reporting'))}</td><td>{ref.revision}</td>"
            f"<td>{f'{p.k} / {p.s}' if p else ''}</td>"
            f"<td>{f'{p.audit.published_cells} / {p.audit.suppressed_cells}' if p else ''}</td>"
            "</tr>"
        )
    for c in report.coverage.missing:
        rows.append(
            f"<tr><th scope='row'>{_e(lab.country(c))}</th>"
            f"<td class='suppressed'>{_e(lab.ui('not_reporting'))}</td>"
            "<td></td><td></td><td></td></tr>"
        )
    head = "".join(
        f"<th>{_e(lab.ui(k))}</th>"
        for k in (
            "country_col",
            "status",
            "revision",
            "threshold",
            "cells",
        )
    )
    return (
        f'<h2 id="coverage">{_e(lab.ui("coverage"))}</h2><div class="keep">'
        f'<table class="coverage"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}'
        f'</tbody></table></div><p class="note">{_e(lab.ui("interval_note"))}</p>'
    )


def _noise_note(report: RegionalReport) -> str:
    """What a reader must know about cells marked ~ (cell key method inputs)."""
    if not report.noise:
        return ""
    params = "; ".join(
        f"maximum noise {n.max_noise}, variance {n.variance:g}, no count 1–{n.js} "
        f"(ptable <code>{_e(n.ptable_digest)}</code>)"
        for n in report.noise
    )
    return (
        f'<p class="note" id="noise">Cells marked ~ include counts published with the cell '
        f"key method: each national count carries random noise ({params}), the same for the "
        f"same records in every table and revision. Noisy cells are not additive: a total "
        f"is perturbed on its own and need not equal the sum of its parts.</p>"
    )


def _national(summaries: Sequence[Summary], lab: Labels, number: int) -> tuple[str, int]:
    out = [f'<h2 id="national" class="national">{_e(lab.ui("national"))}</h2>']
    out.append(f'<p class="note">{_e(lab.ui("national_note"))} {_e(lab.ui("suppressed_note"))}</p>')
    for s in sorted(summaries, key=lambda s: s.country):
        p = s.protection
        head = (
            f'<h3 id="national-{s.country}">{_e(lab.country(s.country))}</h3><p class="note">'
            f"{_e(lab.ui('revision'))}: {s.revision} · "
            f"{_e(lab.ui('threshold'))}: {p.k} / {p.s} · "
            f"{_e(lab.ui('cells'))}: {p.audit.published_cells} / {p.audit.suppressed_cells}</p>"
        )
        blocks: list[str] = []
        for t in s.tables:
            if national_only(t):
                more, number = table_blocks(t, lab, number=number, country=s.country)
                blocks += more
        # the country's heading never stays alone at the foot of a page
        out.append(f'<div class="keep">{head}{"".join(blocks[:1])}</div>{"".join(blocks[1:])}')
    return "".join(out), number


def _provenance(report: RegionalReport, lab: Labels) -> str:
    rows = "".join(
        f"<tr><th scope='row'>{_e(lab.country(i.country))}</th><td>{_e(i.period)}</td>"
        f"<td>{i.revision}</td><td>{'' if i.log_index is None else i.log_index}</td>"
        f"<td><code>{_e(i.report_id)}</code></td><td><code>{_e(i.envelope_sha256)}</code></td>"
        "</tr>"
        for i in report.inputs
    )
    head = "".join(
        f"<th>{_e(h)}</th>"
        for h in (
            lab.ui("country_col"),
            lab.ui("period"),
            lab.ui("revision"),
            lab.ui("log_index"),
            lab.ui("national_report_id"),
            lab.ui("envelope"),
        )
    )
    skipped = (
        "".join(
            f"<li><code>{_e(s.file)}</code>: <b>{_e(s.reason)}</b> — {_e(s.message)}</li>"
            for s in report.skipped
        )
        or f"<li>{_e(lab.ui('none'))}</li>"
    )
    omitted = (
        "".join(
            f"<li>{_e(lab.country(o.country))}: <code>{_e(o.table)}</code> — <b>{_e(o.reason)}</b>"
            f": {_e(o.message)}</li>"
            for o in report.omitted
        )
        or f"<li>{_e(lab.ui('none'))}</li>"
    )
    checkpoint = (
        f"<h3>{_e(lab.ui('checkpoint'))}</h3><pre>{_e(report.log_checkpoint)}</pre>"
        if report.log_checkpoint
        else ""
    )
    return (
        f'<h2 id="provenance">{_e(lab.ui("provenance"))}</h2>'
        f'<p class="note">{_e(lab.ui("provenance_note"))}</p>'
        f'<table class="provenance"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
        f"{checkpoint}{secure_provenance(report, lab)}"
        f"<h3>{_e(lab.ui('not_used'))}</h3><ul>{skipped}</ul>"
        f"<h3>{_e(lab.ui('omitted'))}</h3><ul>{omitted}</ul>"
    )


def _nav(lab: Labels, national: bool, languages: Sequence[str], secure: bool = False) -> str:
    """Contents (in-page anchors) and the sibling pages in other languages."""
    parts = [
        "coverage",
        *(["secure"] if secure else []),
        "charts",
        "tables",
        *(["national"] if national else []),
        "provenance",
    ]
    contents = " · ".join(f'<a href="#{p}">{_e(lab.ui(p))}</a>' for p in parts)
    others = [
        f'<a href="{"report.html" if code == "en" else f"report.{code}.html"}" '
        f'hreflang="{code}" lang="{code}">{_e(lab.language_name(code))}</a>'
        for code in languages
        if code != lab.lang
    ]
    langs = f"<br>{_e(lab.ui('languages'))}: {' · '.join(others)}" if others else ""
    return f'<p class="note nav">{_e(lab.ui("contents"))}: {contents}{langs}</p>'


def render_html(
    report: RegionalReport,
    codebook: Codebook,
    *,
    summaries: Sequence[Summary] = (),
    lang: str = "en",
    languages: Sequence[str] = (),
) -> bytes:
    """The page's bytes (deterministic for a given report, inputs and language).

    Args:
        summaries: the verified national summaries the report was merged from; their
            national-only tables (admin-1) fill the national sections.
        lang: one of :data:`vanfed.report.LANGUAGES`.
        languages: the languages rendered beside this page (``report.html`` for English,
            ``report.<lang>.html`` otherwise), linked from its header.
    """
    lab = Labels(codebook, lang)
    number = 1
    blocks = []
    note = table_note(report, lab)
    for t in report.tables:
        more, number = table_blocks(t, lab, number=number, note=note)
        blocks += more
    national, number = _national(summaries, lab, number) if summaries else ("", number)
    body = (
        f"<h1>{_e(lab.ui('title'))}</h1>"
        f'<p class="note">{_e(lab.ui("period"))}: <b>{_e(report.period)}</b> · '
        f"{_e(lab.ui('report_id'))} <code>{_e(report.report_id)}</code> · "
        f"{_e(lab.ui('created'))} {_e(report.created_at)}</p>"
        f"{_nav(lab, bool(summaries), languages, report.secure is not None)}"
        f"{_noise_note(report)}{_coverage(report, summaries, lab)}{secure_section(report, lab)}"
        f'<h2 id="charts">{_e(lab.ui("charts"))}</h2>{regional_charts(report, lab)}'
        f'<h2 id="tables">{_e(lab.ui("tables"))}</h2>{"".join(blocks)}'
        f"{national}{_provenance(report, lab)}"
    )
    return page(f"{lab.ui('title')} {report.period}", body, lang, secure=report.secure is not None)
