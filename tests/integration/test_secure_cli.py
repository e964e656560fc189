"""The secure path from the command line, on the demo federation's own files: open a round,
every node contributes from its export, the round completes, the merge takes it and the
audit passes; bad input gets one line and exit 2; an aborted round is re-run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from vanfed._demo import DEMO_PASSPHRASE
from vanfed.testing import cli_env

COUNTRIES = ("KHM", "LAO", "MMR", "THA", "VNM")
EXPORTS = {
    "KHM": "khm_cmvis_export.csv",
    "LAO": "lao_nra_casualties.xlsx",
    "MMR": "mmr_casualties.csv",
    "THA": "tha_tmac_export.txt",
    "VNM": "vnm_vnmac_records.jsonl",
}


def vanfed(*args: str) -> tuple[int, str, str]:
    """The CLI with the demo's passphrase (its keys are the demo's)."""
    p = subprocess.run(
        [sys.executable, "-m", "vanfed", *args],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL, check=False,
        env={**cli_env(), "VANFED_PASSPHRASE": DEMO_PASSPHRASE.decode()},
    )  # fmt: skip
    return p.returncode, p.stdout, p.stderr


def coordinator(fed: Path) -> list[str]:
    return [
        "--registry", str(fed / "registry.dsse.json"),
        "--key", str(fed / "keys" / "coordinator"),
    ]  # fmt: skip


def door(fed: Path) -> list[str]:
    return [
        "--inbox",
        str(fed / "inbox"),
        *coordinator(fed),
        "--log-key",
        str(fed / "keys" / "log"),
    ]


def contribute(fed: Path, c: str, announcement: Path, *extra: str) -> tuple[int, str, str]:
    return vanfed(
        "round", "contribute", str(fed / "exports" / EXPORTS[c]),
        "--mapping", str(fed / "exports" / f"{c.lower()}_mapping.toml"), "--country", c,
        "--key", str(fed / "keys" / f"node-{c.lower()}"),
        "--agreement-key", str(fed / "keys" / f"agreement-{c.lower()}"),
        "--registry", str(fed / "registry.dsse.json"),
        "--ledger", str(fed / "nodes" / c / "ledger"),
        "--announcement", str(announcement), *extra,
    )  # fmt: skip


def test_a_round_from_the_command_line(fed: Path, tmp_path: Path) -> None:
    ann = tmp_path / "round.dsse.json"
    code, out, err = vanfed(
        "round", "open", *door(fed), "--period", "2024", "--out", str(ann), "--json"
    )
    assert code == 0, err
    round_id = json.loads(out)["round_id"]
    # a node that gives another country's agreement key is told which key the round expects
    code, _, err = contribute(
        fed,
        "KHM",
        ann,
        "--out",
        str(tmp_path / "x.json"),
        "--agreement-key",
        str(fed / "keys" / "agreement-lao"),
    )
    assert code == 2 and len(err.strip().splitlines()) == 1 and "expects KHM's agreement key" in err
    for c in COUNTRIES:
        out_file = tmp_path / f"{c}.dsse.json"
        code, _, err = contribute(fed, c, ann, "--out", str(out_file))
        assert code == 0, err
        code, _, err = vanfed("inbox", "import", str(out_file), *door(fed))
        assert code == 0, err
    code, out, err = vanfed("round", "status", *door(fed), "--json")
    assert code == 0, err
    (row,) = json.loads(out)
    assert row["round_id"] == round_id and row["status"] == "complete" and not row["missing"]
    report = tmp_path / "out"
    code, out, err = vanfed(
        "merge",
        str(fed / "inbox"),
        *coordinator(fed),
        "--period",
        "2024",
        "--out",
        str(report),
        "--json",
    )
    assert code == 0, err
    secure = json.loads(out)["secure"]
    assert secure["round_id"] == round_id and len(secure["tables"]) == 11
    code, out, err = vanfed(
        "audit",
        str(report / "regional.dsse.json"),
        "--inputs",
        str(fed / "inbox"),
        "--registry",
        str(fed / "registry.dsse.json"),
    )
    assert code == 0, out + err
    assert "secure round" in out
    # KHM loses its ledger: the rebuild takes back its summaries and charges the round it
    # contributed to, so it will not draw a second noise for that round.
    rebuilt = tmp_path / "khm-rebuilt"
    code, out, err = vanfed(
        "ledger", "rebuild", "--country", "KHM", "--registry", str(fed / "registry.dsse.json"),
        "--from-inbox", str(fed / "inbox"), "--ledger", str(rebuilt),
    )  # fmt: skip
    assert code == 0, err
    assert "1 secure rounds it contributed to, 1 newly charged" in out
    assert (rebuilt / "secure-rounds" / f"{round_id}.announcement.dsse.json").exists()
    code, _, err = contribute(
        fed, "KHM", ann, "--ledger", str(rebuilt), "--out", str(tmp_path / "again.json")
    )
    assert code == 1 and "a second noise draw would average the first down" in err, err
    assert not (tmp_path / "again.json").exists()


def test_an_aborted_round_is_run_again_with_the_rest(fed: Path, tmp_path: Path) -> None:
    first = tmp_path / "first.dsse.json"
    assert vanfed("round", "open", *door(fed), "--period", "2024", "--out", str(first))[0] == 0
    for c in ("KHM", "LAO"):
        sent = tmp_path / f"{c}.dsse.json"
        assert contribute(fed, c, first, "--out", str(sent))[0] == 0
        assert vanfed("inbox", "import", str(sent), *door(fed))[0] == 0
    round_id = json.loads(vanfed("round", "status", *door(fed), "--json")[1])[0]["round_id"]
    code, out, err = vanfed("round", "close", round_id, *door(fed))
    assert code == 0, err
    assert "missing MMR, THA, VNM" in out
    # a late contribution to the closed round is refused at the door, with its reason
    late = tmp_path / "MMR.dsse.json"
    assert contribute(fed, "MMR", first, "--out", str(late))[0] == 0  # the node cannot know
    code, out, err = vanfed("inbox", "import", str(late), *door(fed))
    assert code == 1 and "round_closed" in out
    code, out, err = vanfed("round", "status", *door(fed), "--json")
    assert json.loads(out)[0]["status"] == "aborted"
    # merge has no complete round: the national path, said so in --json
    code, out, err = vanfed(
        "merge",
        str(fed / "inbox"),
        *coordinator(fed),
        "--period",
        "2024",
        "--out",
        str(tmp_path / "o"),
        "--json",
    )
    assert code == 0 and json.loads(out)["secure"] is None
