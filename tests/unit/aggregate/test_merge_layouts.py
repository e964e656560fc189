"""The regional merge across national table layouts."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from vanfed import Node
from vanfed.aggregate import Selected, merge
from vanfed.anonymize import DEFAULT_TABLES, AxisSpec, TableSpec
from vanfed.schema import load_codebook, load_mapping
from vanfed.synthetic import write_export
from vanfed.testing import NOW


def tables_with(name: str, axes: tuple[AxisSpec, ...]) -> tuple[TableSpec, ...]:
    return tuple(
        t.model_copy(update={"axes": axes}) if t.name == name else t for t in DEFAULT_TABLES
    )


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> list[Selected]:
    folder = tmp_path_factory.mktemp("layouts")
    detailed_age = tables_with(
        "casualties_by_sex_age",
        (AxisSpec(dim="sex"), AxisSpec(dim="age", level="full"), AxisSpec(dim="outcome")),
    )
    other_dims = tables_with("casualties_by_device", (AxisSpec(dim="device"), AxisSpec(dim="sex")))
    layouts = {"MMR": detailed_age, "KHM": DEFAULT_TABLES, "LAO": DEFAULT_TABLES, "VNM": other_dims}
    out = []
    for country, tables in layouts.items():
        ex = write_export(country, Path(folder) / country, years=range(2024, 2025), seed=3)
        node = Node(country, tables=tables)
        rec = node.ingest(ex.path, load_mapping(ex.mapping_path), today=NOW.date())
        summary = node.summarize(rec, period="2024", now=NOW)
        out.append(
            Selected(summary, "sha256:" + hashlib.sha256(country.encode()).hexdigest(), country)
        )
    return out


def test_finer_levels_are_summed_and_other_layouts_listed(inputs: list[Selected]) -> None:
    cb = load_codebook()
    report = merge(
        inputs, period="2024", report_id="0" * 32, created_at="2026-11-22T12:00:00Z", codebook=cb
    )
    sex_age = next(t for t in report.tables if t.name == "casualties_by_sex_age")
    assert sex_age.axes[0].codes == (
        "KHM",
        "LAO",
        "MMR",
        "VNM",
        "_T",
    )  # MMR's detailed ages summed up
    assert [a.codes for a in sex_age.axes[2:3]] == [("child", "adult", "_U", "_T")]
    mmr = next(s.summary for s in inputs if s.summary.country == "MMR")
    own = mmr.table("casualties_by_sex_age")
    # MMR's grand total in the regional table is the one it published
    n_cells = len(sex_age.values) // 5
    assert sex_age.values[2 * n_cells + n_cells - 1] == own.values[-1]
    omitted = {(o.country, o.table): o.reason for o in report.omitted}
    assert omitted == {("VNM", "casualties_by_device"): "layout_differs"}
    device = next(t for t in report.tables if t.name == "casualties_by_device")
    assert "VNM" not in device.axes[0].codes
    assert set(report.coverage.countries) == {"KHM", "LAO", "MMR", "VNM"}
