"""Hostile inputs through the real CLI (issue #13, items 4 and 5): each ends in one line
naming file, row or field and reason (exit 2), or in rejects that account for every line."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from vanfed.signing import save_keypair
from vanfed.testing import Trust, pin

PASS = {"VANFED_PASSPHRASE": "test-passphrase"}
MAPPING = """\
[fields.record_id]
column = "id"
[fields.incident_date]
column = "date"
format = "iso"
[fields.sex]
column = "sex"
"""


def good_rows(start: int, n: int = 40) -> str:
    return "".join(
        f"{i},2024-0{1 + i % 9}-1{i % 10},{'mf'[i % 2]}\n" for i in range(start, start + n)
    )


GOOD_ROWS = good_rows(1)


@pytest.fixture(autouse=True)
def own_ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's node keeps its publication ledger in its own folder."""
    monkeypatch.setenv("VANFED_LEDGER", str(tmp_path / "ledger"))


def vanfed(
    *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vanfed", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def summarize(tmp_path: Path, data: bytes, *extra: str | Path, mapping: str = MAPPING):
    src, m = tmp_path / "export.csv", tmp_path / "mapping.toml"
    src.write_bytes(data)
    m.write_text(mapping)
    proc = vanfed(
        "summarize", src, "--mapping", m, "--country", "KHM", "--period", "2024",
        "--out", tmp_path / "summary.json", "--rejects", tmp_path / "rejects.csv",
        "--accept-quality", *extra,  # a minimal id/date/sex mapping: other fields unknown
    )  # fmt: skip
    return proc


def rejects(tmp_path: Path) -> dict[int, dict[str, str]]:
    with (tmp_path / "rejects.csv").open(encoding="utf-8", newline="") as fh:
        return {int(r["row"]): r for r in csv.DictReader(fh)}


def counts(proc: subprocess.CompletedProcess[str]) -> tuple[int, int, int]:
    """(read, accepted, rejected) as summarize reports them (they stay at the node)."""
    m = re.search(r"(\d+)\s+rows\s+read,\s+(\d+)\s+accepted,\s+(\d+)\s+rejected", proc.stdout)
    assert m is not None, proc.stdout
    read, accepted, rejected = (int(g) for g in m.groups())
    assert read == accepted + rejected
    return read, accepted, rejected


def test_stray_quote_rejects_its_line_and_reads_the_rest(tmp_path: Path) -> None:
    data = b"id,date,sex\n" + GOOD_ROWS.encode() + b'41,2024-02-02,"f\n' + good_rows(42).encode()
    proc = summarize(tmp_path, data)
    assert proc.returncode == 0, proc.stderr
    assert counts(proc) == (81, 80, 1)
    bad = rejects(tmp_path)
    assert list(bad) == [42] and bad[42]["reason_code"] == "malformed_row"
    assert "opens a quoted field it does not close on the same line" in bad[42]["reason"]


def test_field_over_128_kb_after_a_ragged_row(tmp_path: Path) -> None:
    data = (
        b"id,date,sex\n" + GOOD_ROWS.encode() + b"41,2024-02-02\n"
        b"42,2024-02-03," + b"x" * 200_000 + b"\n43,2024-02-04,f\n"
    )
    proc = summarize(tmp_path, data)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    bad = rejects(tmp_path)
    assert bad[42]["reason"] == "has 2 fields, the header has 3"
    assert bad[43]["reason_code"] == "unknown_code" and bad[43]["column"] == "sex"
    assert sorted(bad) == [42, 43]
    assert counts(proc) == (43, 41, 2)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ('delimiter = "ab"', "source.delimiter: 'ab' is not a delimiter"),
        ('delimiter = ""', "source.delimiter: '' is not a delimiter"),
        ('encoding = "rot13"', "source.encoding: 'rot13' is not a text encoding"),
    ],
)
def test_bad_source_option_is_one_line(tmp_path: Path, source: str, message: str) -> None:
    proc = summarize(
        tmp_path, b"id,date,sex\n1,2024-01-01,f\n", mapping=f"[source]\n{source}\n" + MAPPING
    )
    line = one_line_error(proc)
    assert line.startswith("vanfed: error: ") and f"mapping.toml: {message}" in line
    assert not (tmp_path / "summary.json").exists()


def test_deeply_nested_toml_is_one_line(tmp_path: Path) -> None:
    deep = "x = " + "[" * 3000 + "]" * 3000 + "\n"
    line = one_line_error(summarize(tmp_path, b"id,date,sex\n", mapping=deep + MAPPING))
    assert "mapping.toml: not a usable mapping (arrays or tables nested too deeply)" in line


def test_revision_2_without_supersedes_is_refused_before_reading(tmp_path: Path) -> None:
    line = one_line_error(summarize(tmp_path, b"no such export", "--revision", "2"))
    assert "--revision 2: a revision names the envelope it supersedes" in line


def test_supersedes_must_be_a_digest_or_an_envelope(tmp_path: Path) -> None:
    line = one_line_error(
        summarize(tmp_path, b"id,date,sex\n", "--revision", "2", "--supersedes", "aa706477")
    )
    assert "--supersedes 'aa706477': neither sha256:<64 lowercase hex>" in line


def test_supersedes_accepts_the_envelope_file_and_records_its_digest(
    tmp_path: Path, trust: Trust
) -> None:
    first = tmp_path / "r1"
    first.mkdir()
    assert summarize(first, b"id,date,sex\n" + GOOD_ROWS.encode()).returncode == 0
    save_keypair(trust.nodes["KHM"], tmp_path / "khm", PASS["VANFED_PASSPHRASE"].encode())
    env1 = tmp_path / "r1.dsse.json"
    sign = vanfed(
        "sign", first / "summary.json", "--key", tmp_path / "khm", "--out", env1,
        "--accept-quality", env=PASS,
    )  # fmt: skip
    assert sign.returncode == 0, sign.stderr
    proc = summarize(tmp_path, b"id,date,sex\n" + GOOD_ROWS.encode(), "--revision", "2",
                     "--supersedes", env1)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    r2 = json.loads((tmp_path / "summary.json").read_bytes())
    assert r2["supersedes"] == "sha256:" + hashlib.sha256(env1.read_bytes()).hexdigest()
    # the envelope must be this country's earlier revision of the same period
    wrong = vanfed(
        "summarize", tmp_path / "export.csv", "--mapping", tmp_path / "mapping.toml",
        "--country", "KHM", "--period", "2023", "--out", tmp_path / "x.json",
        "--revision", "2", "--supersedes", env1,
    )  # fmt: skip
    assert "can only supersede an earlier revision of it" in one_line_error(wrong)


def test_formulas_in_an_export_reach_rejects_csv_neutralised(tmp_path: Path) -> None:
    payloads = ["=cmd|' /C calc'!A0", "+1+cmd", "-2+3", "@SUM(1)", "\tx"]
    rows = "".join(f'{50 + i},2024-01-01,"{p}"\n' for i, p in enumerate(payloads))
    proc = summarize(tmp_path, ("id,date,sex\n" + GOOD_ROWS + rows).encode())
    assert proc.returncode == 0, proc.stderr
    bad = rejects(tmp_path)
    assert [bad[row]["value"] for row in sorted(bad)] == ["'" + p for p in payloads]
    raw = (tmp_path / "rejects.csv").read_text(encoding="utf-8")
    for line in raw.splitlines():
        for value in next(csv.reader([line])):
            assert not value.startswith(("=", "+", "@", "\t")), value


def test_merge_of_an_inconsistent_publication_skips_it(tmp_path: Path, trust: Trust) -> None:
    from tests.integration.test_hostile_publications import by_sex, signed, with_tables

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for s in (
        with_tables("KHM", by_sex((6, 7, 0, 13))),
        with_tables("LAO", by_sex((None, 7, None, 5))),
    ):
        (inbox / f"{s.country}.dsse.json").write_bytes(signed(s, trust))
    (tmp_path / "registry.json").write_bytes(trust.registry_bytes)
    pin(trust.registry_bytes)
    save_keypair(trust.coordinator, tmp_path / "coord", PASS["VANFED_PASSPHRASE"].encode())
    proc = vanfed(
        "merge", inbox, "--registry", tmp_path / "registry.json", "--key", tmp_path / "coord",
        "--period", "2024", "--out", tmp_path / "regional", env=PASS,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "regional report 2024: KHM;" in proc.stdout
    assert "skipped LAO.dsse.json: infeasible: no non-negative table agrees" in proc.stdout


def test_outputs_never_replace_the_export_or_the_mapping(tmp_path: Path) -> None:
    data = b"id,date,sex\n" + GOOD_ROWS.encode()
    src, m = tmp_path / "export.csv", tmp_path / "mapping.toml"
    src.write_bytes(data)
    m.write_text(MAPPING)
    (tmp_path / "folder").mkdir()
    base = ("summarize", src, "--mapping", m, "--country", "KHM", "--period", "2024")
    cases = [
        (("--out", tmp_path / "s.json", "--rejects", src), "the rejects file would replace"),
        (("--out", src), f"export.csv: the same file as {src}"),
        (("--out", m), f"mapping.toml: the same file as {m}"),
        (("--out", tmp_path / "folder"), "folder: is a folder; name the file to write"),
        (("--out", tmp_path / "s.json", "--rejects", tmp_path / "folder"), "is a folder"),
    ]
    for extra, message in cases:
        line = one_line_error(vanfed(*base, *extra))
        assert message in line, line
    assert src.read_bytes() == data and m.read_text() == MAPPING  # nothing lost
