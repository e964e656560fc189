"""Mapping drafts on exports in shapes the generator does not write (headers and labels)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from vanfed.ingest import ingest, scaffold_mapping
from vanfed.schema import load_admin1_aliases, load_codebook, load_mapping
from vanfed.synthetic import PROFILES, RESHAPES, reshape_export, score_draft, write_export


@pytest.fixture(scope="module")
def drafts(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str, object, str]]:
    tmp = tmp_path_factory.mktemp("shapes")
    out = []
    for country in PROFILES:
        ex = write_export(country, tmp, seed=3, dirty=False)
        for shape in RESHAPES:
            truth = reshape_export(ex, shape, tmp)
            out.append((country, shape.name, truth, scaffold_mapping(truth.path, country=country)))
    return out


def test_drafts_guess_most_columns_and_values_and_no_value_wrongly(drafts) -> None:
    scores = [score_draft(draft, truth) for _, _, truth, draft in drafts]
    columns = sum(s.columns_right for s in scores) / sum(s.columns_total for s in scores)
    values = sum(s.values_right for s in scores) / sum(s.values_total for s in scores)
    assert columns >= 0.95, [w for s in scores for w in s.wrong if "column" in w]
    assert values >= 0.9
    # A wrong code is worse than a "?": the draft leaves unsure values for a person.
    assert sum(s.values_wrong for s in scores) == 0, [w for s in scores for w in s.wrong]


def test_camel_case_headers_and_a_status_column_of_outcomes(drafts) -> None:
    for country, shape, _truth, draft in drafts:
        if shape != "camel":
            continue
        fields = tomllib.loads(draft)["fields"]
        assert fields["record_id"]["column"] == "VictimID"
        assert fields["incident_date"]["column"] == "AccidentDate"
        assert fields["device"]["column"] == "DeviceType"
        assert fields["outcome"]["column"] == "Status", country
        assert fields["outcome"]["values"] == {"Dead": "killed", "Survivor": "injured"}


def test_common_romanisations_of_cambodian_provinces(tmp_path: Path) -> None:
    spellings = {
        "Siem Reap": "KH-17",
        "Battambang": "KH-2",
        "Pursat": "KH-15",
        "Banteay Meanchey": "KH-1",
        "Oddar Meanchey": "KH-22",
        "Kampong Cham": "KH-3",
        "Kratie": "KH-10",
        "PAILIN": "KH-24",
        "Preah Vihear Province": "KH-13",
        "សៀមរាប": "KH-17",
    }
    rows = [f"2024-01-{i % 28 + 1:02d},{name},killed" for i, name in enumerate(spellings)]
    (tmp_path / "x.csv").write_text("AccidentDate,Province,Status\n" + "\n".join(rows) + "\n")
    draft = scaffold_mapping(tmp_path / "x.csv", country="KHM")
    fields = tomllib.loads(draft)["fields"]
    assert fields["admin1"]["values"] == spellings
    assert fields["outcome"]["column"] == "Status"
    assert '"Battambang" = "KH-2"  # Baat Dambang' in draft  # the label beside the code


def test_a_completed_draft_ingests_like_the_original_mapping(tmp_path: Path) -> None:
    ex = write_export("KHM", tmp_path, seed=4, dirty=False)
    truth = reshape_export(ex, RESHAPES[0], tmp_path)
    (tmp_path / "m.toml").write_text(scaffold_mapping(truth.path, country="KHM"))
    a = ingest(ex.path, load_mapping(ex.mapping_path), country="KHM")
    b = ingest(truth.path, load_mapping(tmp_path / "m.toml"), country="KHM")
    assert b.quality.records_accepted == a.quality.records_accepted == len(ex.truth["year"])
    for name in a.fields:
        assert (a.fields[name] == b.fields[name]).all(), name


def test_aliases_cover_all_ten_countries_with_known_codes() -> None:
    aliases = load_admin1_aliases()
    cb = load_codebook()
    assert {c.id for c in cb.countries} <= set(aliases.countries)
    for country, table in aliases.countries.items():
        codes = {u.id for u in cb.country(country).admin1}
        assert table and set(table.values()) <= codes, country
    spot = {
        ("KHM", "Siem Reap"): "KH-17",
        ("LAO", "Vientiane Capital"): "LA-VT",
        ("MYS", "Penang"): "MY-07",
        ("IDN", "DKI Jakarta"): "ID-JK",
        ("PHL", "NCR"): "PH-00",
        ("MMR", "Rangoon"): "MM-06",
        ("THA", "Bangkok"): "TH-10",
        ("VNM", "Quảng Nam"): "VN-DN",
        ("BRN", "Daerah Tutong"): "BN-TU",
        ("SGP", "Central"): "SG-01",
    }
    for (country, name), code in spot.items():
        assert aliases.of(country)[name] == code
