"""``regional.csv``: one row per country (and the region), an HXL hashtag row under the header.

Each regional cell becomes a column tagged with the table's base hashtag plus one HXL
attribute per code (``#affected+f+children+killed``) and one naming the table. Where a
column holds any interval, two more columns ``+min``/``+max`` carry its bounds; the value
column is then empty for interval cells, never a guess.
"""

from __future__ import annotations

import csv
import io
import itertools

from vanfed.schema import TOTAL, Codebook, RegionalReport, RegionalTable

__all__ = ["render_csv"]


def _attrs(table: RegionalTable, codes: tuple[str, ...], codebook: Codebook) -> str:
    parts = []
    for dim, code in [
        *table.filter.items(),
        *zip((a.dim for a in table.axes[1:]), codes, strict=True),
    ]:
        if code == TOTAL:
            continue
        parts.append(codebook.dimension(dim).code(code).hxl)
    return "".join(f"+{p}" for p in parts)


def render_csv(report: RegionalReport, codebook: Codebook) -> bytes:
    """The CSV bytes (UTF-8, LF line ends, deterministic)."""
    countries = report.tables[0].axes[0].codes if report.tables else (TOTAL,)
    names = {c.id: c.label for c in codebook.countries}
    header = ["country_code", "country", "period"]
    tags = ["#country+code", "#country+name", "#date+year"]
    columns: list[list[str]] = [
        [c for c in countries],
        [names.get(c, "ASEAN region") for c in countries],
        [report.period] * len(countries),
    ]
    for table in report.tables:
        rest = [a.codes for a in table.axes[1:]]
        n_rest = 1
        for r in rest:
            n_rest *= len(r)
        for j, combo in enumerate(itertools.product(*rest)):
            # '.' only: libhxl's delimiter sniffing trips over ':' and '/' in headers
            label = f"{table.name}.{'.'.join(combo)}"
            tag = f"{table.hxl}{_attrs(table, combo, codebook)}+{table.name}"
            idx = [i * n_rest + j for i in range(len(countries))]
            vals = [table.values[i] for i in idx]
            header.append(label)
            tags.append(tag)
            columns.append(["" if v is None else str(v) for v in vals])
            if any(v is None for v in vals):
                header += [f"{label}.min", f"{label}.max"]
                tags += [f"{tag}+min", f"{tag}+max"]
                columns.append([str(table.lo[i]) for i in idx])
                columns.append(["" if table.hi[i] is None else str(table.hi[i]) for i in idx])
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerow(tags)
    for row in zip(*columns, strict=True):
        w.writerow(row)
    return buf.getvalue().encode("utf-8")
