"""The national team's first hour, in subprocesses: mapping check, quality gates, codebook,
--json and --version."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.integration.test_cli import PASS, vanfed

from vanfed.synthetic import write_export


@pytest.fixture(scope="module")
def lao(tmp_path_factory: pytest.TempPathFactory):
    return write_export("LAO", tmp_path_factory.mktemp("lao"), seed=5)


@pytest.fixture(scope="module")
def khm(tmp_path_factory: pytest.TempPathFactory):
    return write_export("KHM", tmp_path_factory.mktemp("khm"), seed=5)


def test_mapping_check_reports_codes_with_labels(khm) -> None:
    proc = vanfed(
        "mapping", "check", str(khm.path), "--mapping", str(khm.mapping_path), "--country", "KHM"
    )
    assert proc.returncode == 0, proc.stderr
    assert "device <- column 'Device Type'" in proc.stdout
    assert "Antipersonnel mine" in proc.stdout  # the label beside the code
    assert "'Flying saucer' (1)" in proc.stdout  # the dirty row, as a warning
    assert "mapping OK (with warnings)" in proc.stdout


def test_mapping_check_lists_every_error_at_once(khm, tmp_path: Path) -> None:
    text = khm.mapping_path.read_text()
    text = text.replace('"AP Mine" = "ap_mine"', '"AP Mine" = "?"')
    text = text.replace('"Male" = "m"', '"Male" = "male"')
    text = text.replace('column = "Province"', 'column = "Provinz"')
    text = text.replace('format = "%d/%m/%Y"', 'format = "%Y-%m-%d"')
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    proc = vanfed("mapping", "check", str(khm.path), "--mapping", str(bad), "--country", "KHM")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "4 problem(s)" in proc.stderr
    assert "'AP Mine' maps to '?'" in proc.stdout
    assert "ap_mine (Antipersonnel mine)" in proc.stdout
    assert "'Male' maps to 'male'" in proc.stdout
    assert "column 'Provinz' named in the mapping is not in the export" in proc.stdout
    as_json = vanfed(
        "mapping", "check", str(khm.path), "--mapping", str(bad), "--country", "KHM", "--json"
    )
    report = json.loads(as_json.stdout)
    assert report["ok"] is False and len(report["errors"]) == 4
    assert any(
        "no value of column 'Date of Incident' is a usable date" in e for e in report["errors"]
    )
    device = next(f for f in report["fields"] if f["field"] == "device")
    av_mine = next(c for c in device["codes"] if c["code"] == "av_mine")
    assert av_mine["label"] == "Antivehicle mine" and av_mine["rows"] > 0


def summarize(export, out: Path, *extra: str):
    return vanfed(
        "summarize",
        str(export.path),
        "--mapping",
        str(export.mapping_path),
        "--country",
        export.country,
        "--period",
        "2024",
        "--out",
        str(out),
        "--ledger",
        str(out.parent / "ledger"),
        *extra,
    )


def sign(tmp: Path, *extra: str):
    """``vanfed sign`` of ``tmp/s.json`` with the key ``tmp/k`` into ``tmp/s.dsse.json``."""
    return vanfed(
        "sign",
        str(tmp / "s.json"),
        "--key",
        str(tmp / "k"),
        "--out",
        str(tmp / "s.dsse.json"),
        "--ledger",
        str(tmp / "ledger"),
        *extra,
        env=PASS,
    )


def test_quality_gate_refuses_an_unknown_field_unless_accepted(lao, tmp_path: Path) -> None:
    refused = summarize(lao, tmp_path / "s.json")
    assert refused.returncode == 2 and not (tmp_path / "s.json").exists()
    assert "field 'disability' is unknown (_U)" in refused.stderr
    assert "--accept-quality" in refused.stderr
    accepted = summarize(lao, tmp_path / "s.json", "--accept-quality", "--json")
    assert accepted.returncode == 0, accepted.stderr
    out = json.loads(accepted.stdout)
    assert any("disability" in i for i in out["accepted_quality_issues"])
    assert (
        out["quality"]["records_read"]
        == out["quality"]["records_accepted"] + out["quality"]["records_rejected"]
    )
    assert (
        vanfed(
            "keygen", "--role", "node", "--country", "LAO", "--out", str(tmp_path / "k"), env=PASS
        ).returncode
        == 0
    )
    gated = sign(tmp_path)
    assert gated.returncode == 2 and "quality gate" in gated.stderr
    assert not (tmp_path / "s.dsse.json").exists()
    signed = sign(tmp_path, "--accept-quality", "--json")
    assert signed.returncode == 0, signed.stderr
    assert json.loads(signed.stdout)["digest"].startswith("sha256:")


def test_quality_gate_on_the_reject_rate(khm, tmp_path: Path) -> None:
    # The KHM export has 7 dirty rows among ~110: above 5 %, below 10 %.
    refused = summarize(khm, tmp_path / "s.json")
    assert refused.returncode == 2
    assert "rows were rejected" in refused.stderr and "> 5%" in refused.stderr
    ok = summarize(khm, tmp_path / "s.json", "--max-reject-rate", "0.1")
    assert ok.returncode == 0, ok.stderr


def test_no_accepted_records_says_why(khm, tmp_path: Path) -> None:
    mapping = tmp_path / "m.toml"
    mapping.write_text(khm.mapping_path.read_text().replace('"%d/%m/%Y"', '"%Y-%m-%d"'))
    proc = vanfed(
        "summarize",
        str(khm.path),
        "--mapping",
        str(mapping),
        "--country",
        "KHM",
        "--period",
        "2024",
        "--out",
        str(tmp_path / "s.json"),
        "--ledger",
        str(tmp_path / "ledger"),
    )
    assert proc.returncode == 2
    line = proc.stderr.strip()
    assert "no accepted records in period 2024: all" in line and "bad_date" in line
    assert "date 'format'" in line


def test_codebook_lists_dimensions_codes_and_labels() -> None:
    proc = vanfed("codebook")
    assert proc.returncode == 0, proc.stderr
    assert "\ndevice: " in proc.stdout and "\noutcome: " in proc.stdout
    assert "ap_mine" in proc.stdout and "Antipersonnel mine" in proc.stdout
    data = json.loads(vanfed("codebook", "--json").stdout)
    dims = {d["id"]: d for d in data["dimensions"]}
    assert {"country", "sex", "device", "outcome"} <= set(dims)
    killed = next(c for c in dims["outcome"]["codes"] if c["code"] == "killed")
    assert killed["label"] == "Killed"
    khm = json.loads(
        vanfed("codebook", "--country", "KHM", "--dimension", "admin1", "--json").stdout
    )
    (admin1,) = khm["dimensions"]
    siem_reap = next(c for c in admin1["codes"] if c["code"] == "KH-17")
    assert siem_reap["label"] == "Siem Reab" and "Siem Reap" in siem_reap["aliases"]


def test_version() -> None:
    from vanfed import __version__

    proc = vanfed("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"vanfed {__version__}"


def test_json_output_of_keygen_and_registry(tmp_path: Path) -> None:
    key = vanfed("keygen", "--role", "root", "--out", str(tmp_path / "root"), "--json", env=PASS)
    assert key.returncode == 0, key.stderr
    info = json.loads(key.stdout)
    assert info["role"] == "root" and Path(info["public"]).exists()
    init = vanfed(
        "registry",
        "init",
        "--root",
        info["public"],
        "--threshold",
        "1",
        "--root-key",
        str(tmp_path / "root"),
        "--out",
        str(tmp_path / "r.json"),
        "--json",
        env=PASS,
    )
    made = json.loads(init.stdout)
    assert made["version"] == 1 and made["signed"] is True
    assert made["out"] == str(tmp_path / "r.json")
    assert Path(made["trust_root"]).exists()  # the creator pinned its roots
    check = json.loads(vanfed("registry", "verify", str(tmp_path / "r.json"), "--json").stdout)
    assert check["ok"] is True and check["threshold"] == 1
