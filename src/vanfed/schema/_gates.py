"""Quality gates: what must be accepted explicitly before a summary is signed.

A summary can be valid and protected yet say little: a field whose every record is unknown
(``_U``, usually a column the mapping left out or mapped wrongly), or an export of which many
rows were rejected. :func:`quality_issues` lists such problems from the summary alone, so the
same check runs when it is written (``summarize``, with the ingest's counts, which stay at the
node) and when it is signed (``sign``, from the tables alone).
"""

from __future__ import annotations

import numpy as np

from vanfed.schema._codebook import TOTAL, UNKNOWN
from vanfed.schema._quality import DataQuality
from vanfed.schema._summary import PublishedTable, Summary

__all__ = ["DEFAULT_MAX_REJECT_RATE", "quality_issues"]

DEFAULT_MAX_REJECT_RATE = 0.05


def quality_issues(
    summary: Summary,
    quality: DataQuality | None = None,
    *,
    max_reject_rate: float = DEFAULT_MAX_REJECT_RATE,
) -> list[str]:
    """Problems a person should see and accept before signing; empty when there are none.

    Args:
        summary: the summary to judge (fields unknown for every record show in its tables).
        quality: the ingest's counts, which stay at the node (not in the summary); without
            them the reject rate is not judged.
        max_reject_rate: the share of rows read that may be rejected (0.05 = 5 %).
    """
    issues = []
    q = quality
    if q is not None and q.records_read and q.records_rejected / q.records_read > max_reject_rate:
        reasons = ", ".join(
            f"{r} {n}" for r, n in sorted(q.rejected_by_reason.items(), key=lambda kv: -kv[1])
        )
        issues.append(
            f"{q.records_rejected} of {q.records_read} rows were rejected "
            f"({q.records_rejected / q.records_read:.1%} > {max_reject_rate:.0%}: {reasons})"
        )
    unknown: dict[str, tuple[str, int]] = {}
    for table in summary.tables:
        for dim, total in _all_unknown(table):
            unknown.setdefault(dim, (table.name, total))
    for dim, (name, total) in unknown.items():
        issues.append(
            f"field {dim!r} is unknown (_U) for all {total} records of table {name}; "
            "map its column, or accept that the field is not recorded"
        )
    return issues


def _all_unknown(table: PublishedTable) -> list[tuple[str, int]]:
    """Dimensions of ``table`` in which every record is ``_U`` (with the total)."""
    values = np.array([-1 if v is None else v for v in table.values], np.int64)
    cube = values.reshape(table.shape)
    grand = int(cube[(-1,) * len(table.axes)])  # _T is last on every axis
    if grand <= 0:
        return []
    out = []
    for i, axis in enumerate(table.axes):
        if UNKNOWN not in axis.codes:
            continue
        index: list[int] = [-1] * len(table.axes)
        known = []
        for j, code in enumerate(axis.codes):
            if code in (UNKNOWN, TOTAL):
                continue
            index[i] = j
            known.append(int(cube[tuple(index)]))
        if all(n == 0 for n in known):  # published zeros only: a suppressed cell is not known 0
            out.append((axis.dim, grand))
    return out
