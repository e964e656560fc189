"""Merging national publications: exact sums where every national cell is published, an
interval where one is suppressed, and a result that depends on the inputs, not their order."""

from __future__ import annotations

import hashlib
import itertools

from vanfed.aggregate import Selected, merge
from vanfed.schema import PublishedAxis, PublishedTable, load_codebook
from vanfed.testing import small_summary


def selected(country: str, values: tuple[int | None, ...] | None = None) -> Selected:
    """A country's tiny summary, optionally with its one table's values replaced."""
    summary = small_summary(country, "2024")
    if values is not None:
        table = PublishedTable(
            name="casualties_by_sex",
            axes=(PublishedAxis(dim="sex", codes=("f", "m", "_U", "_T")),),
            values=values,
        )
        summary = summary.model_copy(update={"tables": (table,)})
    digest = "sha256:" + hashlib.sha256(country.encode()).hexdigest()
    return Selected(summary, digest, f"{country}.dsse.json")


def body(inputs: list[Selected]):
    return merge(
        inputs, period="2024", report_id="0" * 32, created_at="2026-11-22T12:00:00Z",
        codebook=load_codebook(),
    )  # fmt: skip


def test_exact_where_published_and_an_interval_where_suppressed() -> None:
    report = body([selected("KHM", (7, 9, 0, 16)), selected("LAO", (None, None, 0, 12))])
    (table,) = report.tables
    assert table.axes[0].codes == ("KHM", "LAO", "_T")
    # rows: KHM, LAO, region; columns: f, m, _U, _T
    assert table.values == (7, 9, 0, 16, None, None, 0, 12, None, None, 0, 28)
    assert table.lo[4:6] == (0, 0) and table.hi[4:6] == (12, 12)  # LAO's suppressed pair
    assert table.lo[8:10] == (7, 9) and table.hi[8:10] == (19, 21)  # region: [Σ lo, Σ hi]
    assert report.coverage.countries == ("KHM", "LAO")
    assert "THA" in report.coverage.missing and "KHM" not in report.coverage.missing


def test_merge_is_independent_of_input_order() -> None:
    inputs = [selected(c) for c in ("VNM", "KHM", "THA")]
    results = {body(list(p)).canonical_bytes() for p in itertools.permutations(inputs)}
    assert len(results) == 1


def test_no_inputs_gives_no_tables() -> None:
    report = body([])
    assert report.tables == () and report.coverage.countries == ()
