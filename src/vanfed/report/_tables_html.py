"""Tables as print-friendly HTML: human labels, narrow enough for a page, never cut.

A regional table over country × A × B becomes one block per country (the region first),
rows A, columns B; a table of two axes is one block, rows = countries. Blocks longer than
:data:`MAX_ROWS` are split into numbered parts with the header repeated; each block keeps
its caption and source line together (``break-inside: avoid``), so a printed table is never
cut across a page. Rows that are exact zeros everywhere are folded into one line under a
long national table (the Thai table has 78 provinces) rather than dropped.

A region cell estimated by the secure path reads ``1185 ±4`` (the margin smaller, never
wrapped); a block that shows estimates says so under its caption (``note``).
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Sequence

from vanfed.report._grid import Cell, cell_at, text
from vanfed.report._labels import Labels
from vanfed.schema import TOTAL, PublishedTable, RegionalTable

__all__ = ["MAX_ROWS", "table_blocks"]

MAX_ROWS = 30


def _e(t: object) -> str:
    return html.escape(str(t))


def _flat(shape: Sequence[int], idx: Sequence[int]) -> int:
    i = 0
    for n, k in zip(shape, idx, strict=True):
        i = i * n + k
    return i


def _td(cell: Cell, table: str, suppressed: str, country: str | None) -> str:
    cls = f"{cell.status}{' total' if cell.total else ''}"
    data = f'data-table="{_e(table)}" data-cell="{cell.index}" data-status="{cell.status}"'
    if country is not None:  # a national table: its cells index the country's summary
        data += f' data-country="{_e(country)}"'
    if cell.status in ("interval", "estimate"):
        data += f' data-lo="{cell.lo}" data-hi="{"" if cell.hi is None else cell.hi}"'
    if cell.status == "estimate":
        data += f' data-value="{cell.value}" data-margin="{cell.margin}"'
        return f'<td class="{cls}" {data}>{cell.value}<small>\u00a0±{cell.margin}</small></td>'
    if cell.status == "exact":
        data += f' data-value="{cell.value}"'
    if cell.perturbed:
        return (
            f'<td class="perturbed{" total" if cell.total else ""}" {data} '
            f'title="perturbed: cell key method noise">{cell.value}~</td>'
        )
    return f'<td class="{cls}" {data}>{_e(text(cell, suppressed))}</td>'


def _block(
    caption: str,
    source: str,
    head: list[str],
    rows: list[tuple[list[str], list[str], bool]],
    table: str,
    note: str = "",
) -> str:
    """One captioned table: ``rows`` are (row labels, cell html, is_total)."""
    n_labels = len(rows[0][0]) if rows else 1
    th = "".join(f'<th class="rowhead">{_e(h)}</th>' for h in head[:n_labels])
    th += "".join(f"<th>{_e(h)}</th>" for h in head[n_labels:])
    body = []
    previous: list[str] = []
    for labels, tds, total in rows:
        shown = [
            "" if i < len(labels) - 1 and previous[: i + 1] == labels[: i + 1] else lab
            for i, lab in enumerate(labels)
        ]
        previous = labels
        cls = ' class="total"' if total else ""
        ths = "".join(f'<th scope="row">{_e(s)}</th>' for s in shown)
        body.append(f"<tr{cls}>{ths}{''.join(tds)}</tr>")
    note = f'<p class="note estimated">{_e(note)}</p>' if note else ""
    return (
        f'<section class="tbl"><p class="caption">{_e(caption)}</p>{note}'
        f'<table class="data" data-table="{_e(table)}"><thead><tr>{th}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
        f'<p class="source">{_e(source)}</p></section>'
    )


def _rows(
    table: RegionalTable | PublishedTable,
    fixed: dict[int, int],
    labels: Labels,
    country: str | None,
) -> tuple[list[str], list[tuple[list[str], list[Cell], bool]]]:
    """Column labels and rows (row-axis labels, cells across the last axis, is_total)."""
    axes = table.axes
    row_axes = [d for d in range(len(axes) - 1) if d not in fixed]
    col = axes[-1]
    cols = [labels.code(col.dim, c, country) for c in col.codes]
    out = []
    for combo in itertools.product(*(range(len(axes[d].codes)) for d in row_axes)):
        where = dict(fixed) | dict(zip(row_axes, combo, strict=True))
        codes = [axes[d].codes[where[d]] for d in range(len(axes) - 1)]
        row_labels = [labels.code(axes[d].dim, axes[d].codes[where[d]], country) for d in row_axes]
        cells = []
        for k, c in enumerate(col.codes):
            idx = [where[d] for d in range(len(axes) - 1)] + [k]
            i = _flat(table.shape, idx)
            cells.append(cell_at(table, i, (*codes, c)))
        out.append((row_labels, cells, any(axes[d].codes[where[d]] == TOTAL for d in row_axes)))
    return cols, out


def _fold_zeros(
    rows: list[tuple[list[str], list[Cell], bool]],
) -> tuple[list[tuple[list[str], list[Cell], bool]], list[str]]:
    keep, zero = [], []
    for r in rows:
        if not r[2] and all(c.status == "exact" and c.value == 0 for c in r[1]):
            zero.append(" / ".join(r[0]))
        else:
            keep.append(r)
    return keep, zero


def table_blocks(
    table: RegionalTable | PublishedTable,
    labels: Labels,
    *,
    number: int,
    country: str | None = None,
    note: str = "",
) -> tuple[list[str], int]:
    """The table's blocks (one per printed table) and the next table number.

    Args:
        country: the country of a national table (admin-1 names, zero rows folded).
        note: said under the caption of each block that shows an estimate.
    """
    dims = [a.dim for a in table.axes if a.dim != "country"]
    title = labels.table_title(table.hxl, dims)
    if table.filter:
        title += " (" + ", ".join(labels.code(d, c) for d, c in table.filter.items()) + ")"
    regional = isinstance(table, RegionalTable)
    by_country = regional and len(table.axes) > 2
    order = list(range(len(table.axes[0].codes)))
    if by_country:
        order = order[-1:] + order[:-1]  # the region first
    groups: list[tuple[str, dict[int, int]]] = (
        [(labels.country(table.axes[0].codes[k]), {0: k}) for k in order]
        if by_country
        else [("", {})]
    )
    out = []
    suppressed = labels.ui("suppressed")
    for suffix, fixed in groups:
        cols, rows = _rows(table, fixed, labels, country)
        zero: list[str] = []
        if country is not None and len(rows) > MAX_ROWS:
            rows, zero = _fold_zeros(rows)
        head = [labels.dimension(table.axes[d].dim) for d in range(len(table.axes) - 1)]
        head = [h for d, h in enumerate(head) if d not in fixed] + cols
        parts = [rows[i : i + MAX_ROWS] for i in range(0, len(rows), MAX_ROWS)] or [[]]
        for p, part in enumerate(parts):
            cap = f"{labels.ui('table')} {number}. {title}"
            cap += f" — {suffix}" if suffix else ""
            cap += f" ({p + 1}/{len(parts)})" if len(parts) > 1 else ""
            html_rows = [
                (r[0], [_td(c, table.name, suppressed, country) for c in r[1]], r[2]) for r in part
            ]
            source = f"{labels.ui('table')} {number}: {labels.ui('source')}"
            if zero and p == len(parts) - 1:
                source = f"{labels.ui('zero_rows')}: {', '.join(zero)}. {source}"
            shows = any(c.status == "estimate" for r in part for c in r[1])
            out.append(_block(cap, source, head, html_rows, table.name, note if shows else ""))
            number += 1
    return out, number
