"""The order a node makes its publications in, which every replay of a history must follow.

A node protects each publication against everything it published before, and within one
run (one snapshot, one ``created_at``) it protects the quarters before their year. A replay
in any other order (the ledger's, or a log's when a node submitted its envelopes out of
order) attacks sets of publications that never existed, and the relations built for such a
set are not a subset of the real ones: the history research measured spurious findings in
exactly that case. :func:`node_order` is the one sort key for publications; the ledger,
the door's re-audit and the merge's choice of revisions all sort with it.
"""

from __future__ import annotations

from vanfed.schema import period_years

__all__ = ["node_order"]


def node_order(period: str, created_at: str, revision: int) -> tuple[str, int, int, str, int]:
    """Sort key of a publication in the order the node made it.

    Snapshot first (``created_at``), then, within a snapshot, its year group, quarters
    before the year (as :meth:`vanfed.Node.summarize_many` protects them), the period and
    the revision.
    """
    year, quarter = period_years(period)
    return created_at, year, 0 if quarter is not None else 1, period, revision
