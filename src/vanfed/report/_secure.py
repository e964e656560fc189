"""The secure path in plain words: what a reader of a report must know about its estimates.

One reading shared by the HTML page (its "Secure round" section and table notes), the
workbook's About sheet and the trends page, so every artifact says the same thing:

- who took part, and that no party (ARMAC's coordinator included) saw another country's
  counts: each country sent its true counts masked, and only the region's sum could be read;
- the noise, in the round's own numbers: Skellam, its variance for an inner cell, and the
  factor per total axis that makes totals noisier before the table is reconciled;
- that an estimate reads ``value ±margin`` (the 90 % margin of error);
- the privacy statement: ε at δ per round (the round's own figure, in its record), against
  the coordinator and up to ``collusion`` colluding countries;
- which tables stayed on the national path, and why.
"""

from __future__ import annotations

import html

from vanfed.report._labels import Labels
from vanfed.schema import RegionalReport

__all__ = [
    "estimated_tables",
    "format_delta",
    "provenance",
    "section",
    "statements",
    "table_note",
    "withheld",
]

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def estimated_tables(report: RegionalReport) -> frozenset[str]:
    """Names of the tables with at least one estimated cell."""
    return frozenset(t.name for t in report.tables if t.estimated and any(t.estimated))


def format_delta(delta: float) -> str:
    """``10⁻⁶`` for a power of ten, else ``2e-07``."""
    text = f"{delta:.0e}"
    mantissa, exponent = text.split("e")
    if mantissa == "1" and float(text) == delta:
        return "10" + str(int(exponent)).translate(_SUPERSCRIPT)
    return f"{delta:g}"


def statements(report: RegionalReport, lab: Labels) -> list[str]:
    """The secure section's paragraphs, in ``lab``'s language (plain text; empty without a
    round)."""
    record = report.secure
    if record is None:
        return []
    noise = record.noise
    countries = ", ".join(lab.country(c) for c in record.participants)
    out = [
        lab.ui(
            "secure_intro",
            n=str(len(record.participants)),
            countries=countries,
            tables=str(len(record.tables)),
        ),
        lab.ui("secure_masks"),
        lab.ui("secure_noise", variance=f"{noise.variance:g}", factor=str(noise.margin_factor)),
        lab.ui("estimate_note"),
        lab.ui(
            "secure_privacy",
            epsilon=record.epsilon,
            delta=format_delta(noise.delta),
            collusion=str(noise.collusion),
        ),
    ]
    return out


def withheld(report: RegionalReport, lab: Labels) -> list[str]:
    """One line per table the round did not give (table title, reason code, message)."""
    if report.secure is None:
        return []
    by_name = {t.name: t for t in report.tables}
    out = []
    for w in report.secure.withheld:
        t = by_name.get(w.table)
        title = (
            w.table
            if t is None
            else lab.table_title(t.hxl, [a.dim for a in t.axes if a.dim != "country"])
        )
        out.append(f"{title} ({w.table}): {w.reason} — {w.message}")
    return out


def _e(text: object) -> str:
    return html.escape(str(text))


def table_note(report: RegionalReport, lab: Labels) -> str:
    """Under the caption of a block that shows estimates."""
    if report.secure is None:
        return ""
    return lab.ui("secure_table_note", n=str(len(report.secure.participants)))


def section(report: RegionalReport, lab: Labels) -> str:
    """The page's "Secure round" section (empty without a round)."""
    if report.secure is None:
        return ""
    paragraphs = "".join(f"<p>{_e(p)}</p>" for p in statements(report, lab))
    lines = withheld(report, lab)
    left = (
        f'<p class="keep">{_e(lab.ui("secure_withheld"))}:</p><ul class="withheld">'
        + "".join(f"<li>{_e(w)}</li>" for w in lines)
        + "</ul>"
        if lines
        else f"<p>{_e(lab.ui('secure_withheld'))}: {_e(lab.ui('none'))}</p>"
    )
    return (
        f'<h2 id="secure">{_e(lab.ui("secure"))}</h2><div class="secure">{paragraphs}{left}</div>'
    )


def provenance(report: RegionalReport, lab: Labels) -> str:
    """The round an auditor follows: announcement, result and each masked contribution."""
    record = report.secure
    if record is None:
        return ""

    def where(digest: str, index: int | None) -> str:
        at = "" if index is None else f" · {_e(lab.ui('log_index'))} {index}"
        return f"<code>{_e(digest)}</code>{at}"

    rows = "".join(
        f"<tr><th scope='row'>{_e(lab.country(c.country))}</th>"
        f"<td>{'' if c.log_index is None else c.log_index}</td>"
        f"<td><code>{_e(c.envelope_sha256)}</code></td></tr>"
        for c in record.contributions
    )
    head = "".join(f"<th>{_e(lab.ui(k))}</th>" for k in ("country_col", "log_index", "envelope"))
    return (
        f'<h3 id="secure-provenance">{_e(lab.ui("secure"))}</h3><p class="note">'
        f"{_e(lab.ui('round_id'))} <code>{_e(record.round_id)}</code><br>"
        f"{_e(lab.ui('round_announcement'))}: "
        f"{where(record.announcement, record.announcement_log_index)}<br>"
        f"{_e(lab.ui('round_result'))}: {where(record.result, record.result_log_index)}</p>"
        f'<p class="caption">{_e(lab.ui("contributions"))}</p>'
        f'<table class="provenance secure"><thead><tr>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )
