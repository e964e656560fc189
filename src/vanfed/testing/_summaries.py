"""Small, valid summaries for transport and aggregation tests."""

from __future__ import annotations

from random import Random

from vanfed.schema import (
    AuditRecord,
    CodebookRef,
    Protection,
    PublishedAxis,
    PublishedTable,
    Summary,
    load_codebook,
)

__all__ = ["small_summary"]


def small_summary(
    country: str, period: str, *, revision: int = 1, supersedes: str | None = None, seed: int = 0
) -> Summary:
    """A valid, tiny summary for transport tests (not produced by protection: the tables are
    a fixed, safe pattern; verification does not rerun the audit)."""
    cb = load_codebook()
    rng = Random(f"{country}{period}{seed}")
    # each revision adds k records per cell: a change the history audit lets through
    a, b = rng.randint(5, 40) + 5 * (revision - 1), rng.randint(5, 40) + 5 * (revision - 1)
    rng = Random(f"{country}{period}{revision}{seed}")
    table = PublishedTable(
        name="casualties_by_sex",
        axes=(PublishedAxis(dim="sex", codes=("f", "m", "_U", "_T")),),
        values=(a, b, 0, a + b),
    )
    return Summary(
        country=country,
        period=period,
        revision=revision,
        supersedes=supersedes,
        report_id=f"{rng.getrandbits(128):032x}",
        created_at="2026-11-22T11:00:00Z",
        codebook=CodebookRef(id=cb.id, version=cb.version, digest=cb.digest),
        protection=Protection(
            k=5, s=5, audit=AuditRecord(passed=True, published_cells=4, suppressed_cells=0)
        ),
        software="vanfed tests",
        tables=(table,),
    )
