"""Hostile signed publications (issue #13): the merge skips what cannot be real counts, and
nothing a node signs reaches the public CSV as a formula or a malformed HXL tag."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from random import Random

import pytest
from pydantic import ValidationError

from vanfed import Coordinator, audit
from vanfed._json import canonical_bytes
from vanfed.aggregate import Refusal, check_summary
from vanfed.anonymize import intervals
from vanfed.report import render_csv
from vanfed.schema import (
    SUMMARY_TYPE,
    CodebookRef,
    Coverage,
    Policy,
    PublishedAxis,
    PublishedTable,
    RegionalReport,
    RegionalTable,
    Summary,
    load_codebook,
)
from vanfed.signing import sign_envelope, verification_result
from vanfed.testing import NOW, Trust, small_summary

SEX = PublishedAxis(dim="sex", codes=("f", "m", "_U", "_T"))


def by_sex(values: tuple[int | None, ...], hxl: str = "#affected") -> PublishedTable:
    return PublishedTable(name="casualties_by_sex", hxl=hxl, axes=(SEX,), values=values)


def signed(summary: Summary, trust: Trust) -> bytes:
    """The node's envelope, signed directly: a hostile node need not run vanfed."""
    key = trust.nodes[summary.country]
    return sign_envelope(summary.canonical_bytes(), SUMMARY_TYPE, [key]).to_bytes()


def with_tables(country: str, *tables: PublishedTable) -> Summary:
    base = small_summary(country, "2024")
    return base.model_copy(update={"tables": tables})


def door(*tables: PublishedTable) -> str | None:
    """The coordinator's door verdict on a LAO summary of ``tables``: its reason, or None."""
    try:
        check_summary(with_tables("LAO", *tables), load_codebook(), Policy())
    except Refusal as refusal:
        return refusal.reason
    return None


def test_tables_no_counts_can_complete_are_named_not_a_crash() -> None:
    # f + m + _U = _T with m = 7 published and _T = 5: the suppressed cells would be -2
    infeasible = by_sex((None, 7, None, 5))
    with pytest.raises(ArithmeticError):  # what the merge used to die of
        intervals((infeasible,), load_codebook(), "LAO")
    assert door(infeasible) == "infeasible"
    assert door(by_sex((6, 7, 0, 14))) == "not_additive"
    assert door(by_sex((6, 7, 0, 13))) is None


def test_merge_skips_an_inconsistent_publication_and_the_audit_agrees(
    tmp_path: Path, trust: Trust
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    good = with_tables("KHM", by_sex((6, 7, 0, 13)))
    bad = with_tables("LAO", by_sex((None, 7, None, 5)))
    for s in (good, bad):
        envelope = signed(s, trust)
        (inbox / f"{s.country}.dsse.json").write_bytes(envelope)
    out = Coordinator(trust.registry, trust.coordinator).merge(
        inbox, period="2024", now=NOW, rng=Random(1)
    )
    assert out.report.coverage.countries == ("KHM",)
    skipped = {s.file: s for s in out.report.skipped}
    assert skipped["LAO.dsse.json"].reason == "infeasible"
    out.write(tmp_path / "regional")
    verdict = audit(
        tmp_path / "regional" / "regional.dsse.json",
        inputs=inbox,
        registry=trust.registry,
        now=NOW,
    )
    assert verdict.ok, verdict


@pytest.mark.parametrize(
    "hxl",
    ["=cmd|' /C calc'!A0", "#affected,=1+1", "#Affected", "#affected+", "affected", "#1st", ""],
)
def test_a_malformed_hxl_tag_is_refused_at_verification(trust: Trust, hxl: str) -> None:
    with pytest.raises(ValidationError, match="hxl"):
        by_sex((6, 7, 0, 13), hxl=hxl)
    obj = with_tables("KHM", by_sex((6, 7, 0, 13))).to_json_obj()
    obj["tables"][0]["hxl"] = hxl
    envelope = sign_envelope(canonical_bytes(obj), SUMMARY_TYPE, [trust.nodes["KHM"]]).to_bytes()
    result = verification_result(envelope, trust.registry, now=NOW)
    assert not result.ok
    assert result.codes == ("malformed_payload",)
    assert "hxl" in result.reasons[0].message


def test_well_formed_hxl_tags_pass() -> None:
    for hxl in ("#affected", "#affected+killed", "#inneed+f+children_u5", "#x1"):
        assert by_sex((6, 7, 0, 13), hxl=hxl).hxl == hxl


def test_regional_csv_cells_can_never_be_formulas() -> None:
    """Defence in depth: even a report built around validation renders no live formula."""
    cb = load_codebook()
    table = RegionalTable.model_construct(
        name='=HYPERLINK("http://x")',  # the long layout writes the table name in every row
        title="",
        hxl='=HYPERLINK("http://x")',
        filter={},
        axes=(PublishedAxis(dim="country", codes=("KHM", "_T")), SEX),
        values=(1, 2, 0, 3, 1, 2, 0, 3),
        lo=(1, 2, 0, 3, 1, 2, 0, 3),
        hi=(1, 2, 0, 3, 1, 2, 0, 3),
    )
    report = _report_with(table)
    rows = list(csv.reader(io.StringIO(render_csv(report, cb).decode())))
    for row in rows:
        for value in row:
            assert not value.startswith(("=", "+", "@", "\t", "\r")), value
            assert not (value.startswith("-") and not value.lstrip("-").isdigit()), value
    assert all(row[0].startswith("'=HYPERLINK") for row in rows[2:])


def _report_with(table: RegionalTable) -> RegionalReport:
    cb = load_codebook()
    return RegionalReport.model_construct(
        period="2024",
        report_id="0" * 32,
        created_at="2026-11-22T12:00:00Z",
        codebook=CodebookRef(id=cb.id, version=cb.version, digest=cb.digest),
        coverage=Coverage(countries=("KHM",), missing=()),
        inputs=(),
        skipped=(),
        tables=(table,),
    )
