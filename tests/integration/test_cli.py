"""The CLI in subprocesses: the contract of DESIGN.md, exit codes and one-line errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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
        env=PASS,
    )
    assert sign.returncode == 0, sign.stderr
    ok = vanfed(
        "verify", str(tmp_path / "s.dsse.json"), "--registry", str(tmp_path / "r2.json"), "--json"
    )
    assert ok.returncode == 0 and json.loads(ok.stdout)[0]["ok"] is True
    # the same envelope against the registry without the node key: exit 1 with a reason
    bad = vanfed(
        "verify", str(tmp_path / "s.dsse.json"), "--registry", str(tmp_path / "r1.json"), "--json"
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
