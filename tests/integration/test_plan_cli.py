"""``vanfed plan`` and per-period runs in subprocesses: exit codes, files, one-line errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.integration.test_cli import PASS, one_line_error, vanfed

from vanfed.synthetic import write_export


def test_a_run_writes_what_it_can_and_the_plan_says_why_not(tmp_path: Path) -> None:
    for role, extra in (("root", []), ("node", ["--country", "KHM"])):
        made = vanfed("keygen", "--role", role, *extra, "--out", str(tmp_path / role), env=PASS)
        assert made.returncode == 0, made.stderr
    init = ["registry", "init", "--root", str(tmp_path / "root.pub"), "--threshold", "1"]
    init += ["--root-key", str(tmp_path / "root"), "--out", str(tmp_path / "registry.json")]
    bad = vanfed(*init, "--calendar", "quarter=3,0", env=PASS)
    assert "--calendar 'quarter=3,0'" in one_line_error(bad)
    made = vanfed(*init, "--calendar", "quarter=0;year=0,12", env=PASS)
    assert made.returncode == 0, made.stderr
    shown = json.loads(vanfed("registry", "show", str(tmp_path / "registry.json")).stdout)
    assert shown["policy"]["revisions"] == {"quarter": [0], "year": [0, 12]}
    ex = write_export("KHM", tmp_path / "ex", years=range(2024, 2025), seed=11)
    common = ["--mapping", str(ex.mapping_path), "--country", "KHM", "--accept-quality"]
    common += ["--ledger", str(tmp_path / "ledger"), "--registry", str(tmp_path / "registry.json")]

    def summarize(period: str, out: Path) -> subprocess.CompletedProcess[str]:
        return vanfed("summarize", str(ex.path), *common, "--period", period, "--out", str(out))

    first = summarize("2024-Q1", tmp_path / "q1.json")
    assert first.returncode == 0, first.stderr
    # A new ledger is said aloud: a mistyped --ledger would protect against nothing.
    assert f"note: no ledger at {tmp_path / 'ledger'}: started a new one" in first.stderr
    signed = vanfed(
        *("sign", str(tmp_path / "q1.json"), "--key", str(tmp_path / "node")),
        *("--ledger", str(tmp_path / "ledger"), "--out", str(tmp_path / "q1.dsse.json")),
        "--accept-quality",
        env=PASS,
    )
    assert signed.returncode == 0, signed.stderr
    assert "no ledger" not in signed.stderr
    # A revision made without the registry is refused by sign with it (the calendar).
    r2 = vanfed(
        "summarize",
        str(ex.path),
        *common[:-2],
        "--period",
        "2024-Q1",
        "--out",
        str(tmp_path / "q1r2.json"),
    )
    assert r2.returncode == 0, r2.stderr
    late = vanfed(
        *("sign", str(tmp_path / "q1r2.json"), "--key", str(tmp_path / "node")),
        *("--ledger", str(tmp_path / "ledger"), "--out", str(tmp_path / "q1r2.dsse.json")),
        *("--registry", str(tmp_path / "registry.json"), "--accept-quality"),
        env=PASS,
    )
    assert late.returncode == 1, late.stderr  # a refusal, as for summarize
    assert "2024-Q1 is final (its last window)" in late.stderr
    assert not (tmp_path / "q1r2.dsse.json").exists()
    # Q1 is published once (the calendar); Q2 is new: the run writes Q2 and exits 1.
    run = summarize("2024-Q1,2024-Q2", tmp_path / "out")
    assert run.returncode == 1, run.stderr
    assert (tmp_path / "out" / "khm-2024-Q2-r1.json").exists(), run.stdout + run.stderr
    assert not (tmp_path / "out" / "khm-2024-Q1-r2.json").exists()
    assert "2024-Q1 r2: refused (outside_window)" in run.stdout
    assert "1 of 2 periods refused (2024-Q1); 1 written" in run.stderr
    # --json: each refusal's next step apart from its message, as in plan --json.
    js = vanfed(
        "summarize", str(ex.path), *common, "--period", "2024-Q1,2024-Q3",
        "--out", str(tmp_path / "out3"), "--json",
    )  # fmt: skip
    assert js.returncode == 1, js.stderr
    (q1_refused,) = json.loads(js.stdout)["refused"]
    assert q1_refused["reason"] == "outside_window" and "Next:" not in q1_refused["message"]
    assert "final" in q1_refused["next_step"]
    plan = vanfed("plan", str(ex.path), *common[:4], *common[5:], "--json")
    assert plan.returncode == 0, plan.stderr
    periods = {p["period"]: p for p in json.loads(plan.stdout)["periods"]}
    # Q1 used its only window: final, not a refusal with nothing to do.
    q1 = periods["2024-Q1"]
    assert (q1["status"], q1["revision"], q1["reason"]) == ("final", 1, "outside_window")
    assert q1["next_step"] is None
    text = vanfed("plan", str(ex.path), *common[:4], *common[5:], "--period", "2024-Q1")
    assert text.returncode == 0, text.stderr
    assert "2024-Q1 r1: final (published in its calendar's last window)" in text.stdout
    assert periods["2024"]["status"] == "safe" and periods["2024"]["revision"] == 1
    # The synthetic export rejects more than 5 % of its rows: summarize would stop there.
    assert any("rows were rejected" in i for i in periods["2024"]["quality_gate"])
    year = [*common[:4], *common[5:], "--period", "2024"]
    stops = vanfed("plan", str(ex.path), *year)
    assert "2024 r1: safe now" in stops.stdout
    assert "summarize stops at the quality gate unless --accept-quality: (1)" in stops.stdout
    accepted = vanfed("plan", str(ex.path), *year, "--accept-quality")
    assert "2024 r1: safe now" in accepted.stdout and "quality gate" not in accepted.stdout
    assert 0 < periods["2024"]["published_share"] <= 1
    assert not list((tmp_path / "ledger" / "envelopes").glob("*"))[1:]  # the plan wrote nothing


def test_the_plan_does_not_advance_the_pinned_trust_root(
    tmp_path: Path, _own_trust_root: Path
) -> None:
    trust_root = _own_trust_root
    # Regression: a plan given a newer registry printed "trust root: now at registry v2"
    # and rewrote the pin; the plan writes nothing (summarize or verify advance it).
    for role, extra in (("root", []), ("node", ["--country", "KHM"])):
        made = vanfed("keygen", "--role", role, *extra, "--out", str(tmp_path / role), env=PASS)
        assert made.returncode == 0, made.stderr
    v1, v2 = tmp_path / "registry-v1.json", tmp_path / "registry-v2.json"
    root = ["--root-key", str(tmp_path / "root")]
    made = vanfed(
        *("registry", "init", "--root", str(tmp_path / "root.pub"), "--threshold", "1"),
        *root,
        *("--out", str(v1), "--calendar", "quarter=0;year=0,12"),
        env=PASS,
    )
    assert made.returncode == 0, made.stderr
    added = vanfed(
        *("registry", "add-key", str(v1), "--pub", str(tmp_path / "node.pub")),
        *("--role", "node", "--country", "KHM", *root, "--out", str(v2)),
        env=PASS,
    )
    assert added.returncode == 0, added.stderr
    pinned = trust_root.read_bytes()
    (tmp_path / "ledger").mkdir()
    ex = write_export("KHM", tmp_path / "ex", years=range(2024, 2025), seed=11)
    plan = vanfed(
        *("plan", str(ex.path), "--mapping", str(ex.mapping_path), "--country", "KHM"),
        *("--period", "2024", "--ledger", str(tmp_path / "ledger"), "--registry", str(v2)),
    )
    assert plan.returncode == 0, plan.stderr
    assert "trust root" not in plan.stderr and trust_root.read_bytes() == pinned


def test_a_plan_without_a_ledger_plans_first_publications(tmp_path: Path) -> None:
    # Regression: before anything was published the plan refused ("no ledger there"), so
    # a first publication could not be planned; it must not create the ledger either.
    ex = write_export("KHM", tmp_path / "ex", years=range(2024, 2025), seed=11)
    common = ["plan", str(ex.path), "--mapping", str(ex.mapping_path), "--country", "KHM"]
    plan = vanfed(*common, "--ledger", str(tmp_path / "ledger"), "--json")
    assert plan.returncode == 0, plan.stderr
    (notice,) = plan.stderr.splitlines()  # one line: a long path is not wrapped
    assert notice.endswith(
        f"{tmp_path / 'ledger'}: every period planned as a first publication "
        "(give --ledger DIR if the country has published before)"
    )
    (year,) = json.loads(plan.stdout)["periods"]
    assert year["period"] == "2024" and year["revision"] == 1 and year["status"] == "safe"
    assert not (tmp_path / "ledger").exists()
    (tmp_path / "file").write_text("")
    assert "not a folder" in one_line_error(vanfed(*common, "--ledger", str(tmp_path / "file")))


def test_summarize_json_stays_json_and_a_run_needs_a_folder(tmp_path: Path) -> None:
    # Regressions: --json with --protection-report printed the report's notice on stdout
    # before the JSON; a run of several periods with --out naming a file ended in a
    # FileExistsError traceback after all the work.
    ex = write_export("KHM", tmp_path / "ex", years=range(2024, 2025), seed=11)
    common = ["summarize", str(ex.path), "--mapping", str(ex.mapping_path), "--country", "KHM"]
    common += ["--ledger", str(tmp_path / "ledger"), "--accept-quality"]
    made = vanfed(
        *common,
        *("--period", "2024", "--out", str(tmp_path / "s.json"), "--json"),
        *("--protection-report", str(tmp_path / "p.json")),
    )
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["summaries"][0]["period"] == "2024"
    assert "protection report (heuristic; local, do not send)" in made.stderr
    run = vanfed(*common, "--period", "2024-Q1,2024-Q2", "--out", str(tmp_path / "s.json"))
    assert "is a file; several periods are written into a folder" in one_line_error(run)


def test_summarize_says_when_a_revision_hides_its_total(tmp_path: Path) -> None:
    ex = write_export("KHM", tmp_path / "ex", years=range(2024, 2025), seed=11)
    rows = ex.path.read_bytes().split(b"\r\n")
    early = tmp_path / "early.csv"  # three records arrive late
    early.write_bytes(b"\r\n".join(rows[:1] + rows[4:]))  # (the bad rows are last)
    made = vanfed(
        "keygen", "--role", "node", "--country", "KHM", "--out", str(tmp_path / "n"), env=PASS
    )
    assert made.returncode == 0, made.stderr
    common = ["--mapping", str(ex.mapping_path), "--country", "KHM", "--period", "2024"]
    common += ["--ledger", str(tmp_path / "ledger"), "--accept-quality"]
    r1 = vanfed("summarize", str(early), *common, "--out", str(tmp_path / "r1.json"))
    assert r1.returncode == 0, r1.stderr
    assert "total hidden" not in r1.stdout  # a first publication shows its total
    signed = vanfed(
        *("sign", str(tmp_path / "r1.json"), "--key", str(tmp_path / "n")),
        *("--ledger", str(tmp_path / "ledger"), "--out", str(tmp_path / "r1.dsse.json")),
        "--accept-quality",
        env=PASS,
    )
    assert signed.returncode == 0, signed.stderr
    r2 = vanfed("summarize", str(ex.path), *common, "--out", str(tmp_path / "r2.json"))
    assert r2.returncode == 0, r2.stderr
    within = json.loads((tmp_path / "r2.json").read_text())["protection"]["total_within"]
    assert "2024 r2: audit passed" in r2.stdout
    assert f"total hidden in [{within['low']}, {within['high']}]" in r2.stdout
