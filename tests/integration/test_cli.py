"""The CLI in subprocesses: the contract of DESIGN.md, exit codes and one-line errors."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vanfed.schema import RegionalReport
from vanfed.synthetic import write_export

ROOT = Path(__file__).parents[2]
PASS = {"VANFED_PASSPHRASE": "test-passphrase"}


def vanfed(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "vanfed", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def run_recipe(envelope: Path, public_key: Path) -> subprocess.CompletedProcess[str]:
    """The README's auditor recipe: jq, base64, printf and openssl only."""
    script = ROOT / "examples" / "verify-with-openssl.sh"
    return subprocess.run(
        ["bash", str(script), str(envelope), str(public_key)],
        capture_output=True,
        text=True,
        check=False,
    )


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    proc = vanfed("demo", "--out", str(tmp_path / "demo"))
    assert proc.returncode == 0, proc.stderr
    assert "Audit: PASSED" in proc.stdout
    for name in ("regional.dsse.json", "regional.csv", "report.html"):
        assert (tmp_path / "demo" / "regional" / name).stat().st_size > 0
    assert len(list((tmp_path / "demo" / "inbox").glob("*.dsse.json"))) == 5
    # Grand totals are published, so every merged interval is bounded (no "1176–∞").
    envelope = json.loads((tmp_path / "demo" / "regional" / "regional.dsse.json").read_text())
    report = RegionalReport.model_validate_json(base64.b64decode(envelope["payload"]))
    bounds = [hi for table in report.tables for hi in table.hi]
    assert bounds and None not in bounds
    html = (tmp_path / "demo" / "regional" / "report.html").read_text()
    assert "–∞" not in html  # no unbounded interval shown (the legend may still explain ∞)


def test_node_workflow_keygen_summarize_sign_verify(tmp_path: Path) -> None:
    ex = write_export("LAO", tmp_path, seed=5)
    draft = vanfed("mapping", "init", str(ex.path), "--country", "LAO")
    assert draft.returncode == 0 and "[fields.sex]" in draft.stdout
    for role, extra in (("root", []), ("coordinator", []), ("node", ["--country", "LAO"])):
        p = vanfed("keygen", "--role", role, *extra, "--out", str(tmp_path / role), env=PASS)
        assert p.returncode == 0, p.stderr
    reg = vanfed(
        "registry",
        "init",
        "--root",
        str(tmp_path / "root.pub"),
        "--threshold",
        "1",
        "--root-key",
        str(tmp_path / "root"),
        "--out",
        str(tmp_path / "r1.json"),
        env=PASS,
    )
    assert reg.returncode == 0, reg.stderr
    add = vanfed(
        "registry",
        "add-key",
        str(tmp_path / "r1.json"),
        "--pub",
        str(tmp_path / "node.pub"),
        "--role",
        "node",
        "--country",
        "LAO",
        "--root-key",
        str(tmp_path / "root"),
        "--out",
        str(tmp_path / "r2.json"),
        env=PASS,
    )
    assert add.returncode == 0, add.stderr
    assert (
        vanfed(
            "registry", "verify", str(tmp_path / "r2.json"), "--previous", str(tmp_path / "r1.json")
        ).returncode
        == 0
    )
    summ = vanfed(
        "summarize",
        str(ex.path),
        "--mapping",
        str(ex.mapping_path),
        "--country",
        "LAO",
        "--period",
        "2024",
        "--out",
        str(tmp_path / "s.json"),
        "--rejects",
        str(tmp_path / "rejects.csv"),
        "--accept-quality",  # the LAO export has no disability column
        "--ledger",
        str(tmp_path / "ledger"),
    )
    assert summ.returncode == 0, summ.stderr
    assert "audit passed" in summ.stdout
    lines = (tmp_path / "rejects.csv").read_text().splitlines()[1:]
    assert len({line.split(",")[1] for line in lines}) == sum(ex.dirty_reasons.values())
    sign = vanfed(
        "sign",
        str(tmp_path / "s.json"),
        "--key",
        str(tmp_path / "node"),
        "--out",
        str(tmp_path / "s.dsse.json"),
        "--accept-quality",
        "--ledger",
        str(tmp_path / "ledger"),
        env=PASS,
    )
    assert sign.returncode == 0, sign.stderr
    ok = vanfed(
        "verify", str(tmp_path / "s.dsse.json"), "--registry", str(tmp_path / "r2.json"), "--json"
    )
    assert ok.returncode == 0 and json.loads(ok.stdout)[0]["ok"] is True
    # the same envelope against the registry without the node key: exit 1 with a reason
    # (under a trust root that has not seen v2 yet: for this one, v1 would be a rollback)
    fresh = {"VANFED_TRUST_ROOT": str(tmp_path / "other-trust-root.json")}
    assert vanfed("registry", "trust-root", str(tmp_path / "r1.json"), env=fresh).returncode == 0
    bad = vanfed(
        "verify",
        str(tmp_path / "s.dsse.json"),
        "--registry",
        str(tmp_path / "r1.json"),
        "--json",
        env=fresh,
    )
    assert bad.returncode == 1
    assert json.loads(bad.stdout)[0]["reasons"][0]["code"] == "unknown_key"
    # the auditor's recipe with standard tools only
    if shutil.which("openssl") and shutil.which("jq"):
        recipe = run_recipe(tmp_path / "s.dsse.json", tmp_path / "node.pub")
        assert recipe.returncode == 0, recipe.stderr
        assert "Signature Verified Successfully" in recipe.stdout
        assert (tmp_path / "node.keyid").read_text().strip() in recipe.stdout
        tampered = json.loads((tmp_path / "s.dsse.json").read_text())
        tampered["payloadType"] = "application/x-other"
        (tmp_path / "t.json").write_text(json.dumps(tampered))
        again = run_recipe(tmp_path / "t.json", tmp_path / "node.pub")
        assert again.returncode != 0


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (
            [
                "summarize",
                "nope.csv",
                "--mapping",
                "m.toml",
                "--country",
                "KHM",
                "--period",
                "2024",
                "--out",
                "o.json",
            ],
            "m.toml: cannot read mapping",
        ),
        (
            [
                "summarize",
                "x.csv",
                "--mapping",
                "good.toml",
                "--country",
                "KHM",
                "--period",
                "2024",
                "--out",
                "o.json",
                "--k",
                "1",
            ],
            "k = 1",
        ),
        (
            [
                "summarize",
                "x.csv",
                "--mapping",
                "good.toml",
                "--country",
                "KHM",
                "--period",
                "1999",
                "--out",
                "o.json",
            ],
            "no accepted records in period 1999",
        ),
        (
            [
                "summarize",
                "missing.csv",
                "--mapping",
                "good.toml",
                "--country",
                "KHM",
                "--period",
                "2024",
                "--out",
                "o.json",
            ],
            "missing.csv: no such file",
        ),
        (
            [
                "summarize",
                "x.csv",
                "--mapping",
                "good.toml",
                "--country",
                "XYZ",
                "--period",
                "2024",
                "--out",
                "o.json",
            ],
            "'XYZ' is not in codebook",
        ),
        (
            [
                "summarize",
                "x.csv",
                "--mapping",
                "badcol.toml",
                "--country",
                "KHM",
                "--period",
                "2024",
                "--out",
                "o.json",
            ],
            "column 'Nope' named in the mapping is not in the export",
        ),
        (["keygen", "--role", "node", "--out", "k"], "--country is required"),
        (["sign", "x.csv", "--key", "nokey", "--out", "e.json"], "x.csv: not valid JSON"),
        (["schema", "colour"], "schema 'colour'"),
        (["verify", "x.csv", "--registry", "x.csv"], "registry"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(
    tmp_path: Path, args: list[str], fragment: str
) -> None:
    ex = write_export("KHM", tmp_path, seed=2)
    shutil.copy(ex.path, tmp_path / "x.csv")
    shutil.copy(ex.mapping_path, tmp_path / "good.toml")
    (tmp_path / "badcol.toml").write_text(
        ex.mapping_path.read_text().replace('column = "Sex"', 'column = "Nope"')
    )
    line = one_line_error(vanfed(*args, cwd=tmp_path, env=PASS))
    assert fragment in line, line


def test_wrong_passphrase_is_a_clear_error(tmp_path: Path) -> None:
    assert (
        vanfed("keygen", "--role", "root", "--out", str(tmp_path / "r"), env=PASS).returncode == 0
    )
    (tmp_path / "s.json").write_text("{}")
    line = one_line_error(
        vanfed(
            "registry",
            "init",
            "--root",
            str(tmp_path / "r.pub"),
            "--threshold",
            "1",
            "--root-key",
            str(tmp_path / "r"),
            "--out",
            str(tmp_path / "o"),
            env={"VANFED_PASSPHRASE": "wrong"},
        )
    )
    assert "wrong passphrase" in line


def test_schema_prints_json_schema() -> None:
    proc = vanfed("schema", "summary")
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["title"] == "Summary"


def test_summarize_with_policy_optimal_mode_and_protection_report(tmp_path: Path) -> None:
    ex = write_export("KHM", tmp_path, seed=2024)
    base = ["summarize", str(ex.path), "--mapping", str(ex.mapping_path), "--country", "KHM"]
    base += ["--period", "2024", "--ledger", str(tmp_path / "ledger")]
    base += ["--accept-quality"]  # the synthetic export's planted faults reject 7 % of rows
    policy = tmp_path / "policy.toml"
    policy.write_text('public_margins = [["outcome"], ["sex"], ["device"]]\n')
    report = tmp_path / "protection.json"
    opts = ["--policy", str(policy), "--method", "optimal", "--time-limit", "30"]
    proc = vanfed(
        *base, "--out", str(tmp_path / "s.json"), *opts, "--protection-report", str(report)
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(report.read_text())
    assert data["method"] in ("optimal-milp", "heuristic") and data["gap"] is not None
    assert data["policy"]["public_margins"] == [["outcome"], ["sex"], ["device"]]
    statuses = {c["status"] for c in data["table_cells"]}
    assert {"primary", "secondary", "public", "empty"} <= statuses
    assert data["unbounded"] == 0
    assert oct(report.stat().st_mode & 0o777) == "0o600"  # true counts: owner only
    summary = json.loads((tmp_path / "s.json").read_text())
    published = {t["name"]: t["values"] for t in summary["tables"]}
    for cell in data["table_cells"]:
        if cell["status"] == "public":  # published with its true value
            assert cell["value"] in published[cell["table"]]
    text = (tmp_path / "protection.json.txt").read_text()
    assert "optimality gap" in text and "primary" in text and "∞" not in text

    bad = tmp_path / "bad.toml"
    bad.write_text('public_margins = [["sex", "sex"]]\n')
    err = one_line_error(vanfed(*base, "--out", str(tmp_path / "t.json"), "--policy", str(bad)))
    assert "bad.toml" in err and "public_margins" in err and "twice" in err
    err = one_line_error(vanfed(*base, "--out", str(tmp_path / "t.json"), "--method", "magic"))
    assert "--method" in err
