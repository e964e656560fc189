"""Trends over several periods, from signed regional reports, through the command line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

from vanfed import Node
from vanfed._demo import DEMO_PASSPHRASE
from vanfed.schema import RegionalReport, load_mapping
from vanfed.signing import load_private
from vanfed.synthetic import write_export
from vanfed.testing import NOW

COUNTRIES = ("KHM", "LAO", "MMR", "THA", "VNM")


def vanfed(*args: str, root: Path) -> subprocess.CompletedProcess[str]:
    """``vanfed ARGS…`` as the demo federation under ``root`` runs it: its passphrase, its roots."""
    env = {
        **os.environ,
        "VANFED_PASSPHRASE": DEMO_PASSPHRASE.decode(),
        "VANFED_TRUST_ROOT": str(root / "trust-root.json"),  # the demo's own roots
    }
    return subprocess.run(
        [sys.executable, "-m", "vanfed", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )


class Bars(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.bars: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "g" and a.get("class") == "bar":
            self.bars.append(a)


def test_trends_from_two_signed_periods(federation: Path, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for f in (federation / "inbox").glob("*.dsse.json"):  # 2024, as delivered
        shutil.copy(f, inbox / f.name)
    for c in COUNTRIES:  # each node also publishes 2023 (same synthetic exports, seed 7)
        ex = write_export(c, tmp_path / "exports", years=range(2022, 2025), seed=7)
        node = Node(c)
        rec = node.ingest(ex.path, load_mapping(ex.mapping_path), today=NOW.date())
        summary = node.summarize(rec, period="2023", now=NOW)
        key = load_private(federation / "keys" / f"node-{c.lower()}", DEMO_PASSPHRASE)
        (inbox / f"{c}-2023.dsse.json").write_bytes(node.sign(summary, key))
    reg = str(federation / "registry.dsse.json")
    key = str(federation / "keys" / "coordinator")
    reports = {}
    for period in ("2023", "2024"):
        out = tmp_path / period
        made = vanfed(
            "merge", str(inbox), "--registry", reg, "--key", key, "--period", period,
            "--out", str(out), root=federation,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        reports[period] = RegionalReport.model_validate_json((out / "regional.json").read_bytes())
    page = tmp_path / "trends.html"
    envelopes = [str(tmp_path / p / "regional.dsse.json") for p in ("2024", "2023")]
    done = vanfed(
        "trends", *envelopes, "--registry", reg, "--out", str(page), "--lang", "th", root=federation
    )
    assert done.returncode == 0, done.stderr
    html = page.read_text("utf-8")
    assert '<html lang="th">' in html and "ผู้ประสบภัย" in html
    parser = Bars()
    parser.feed(html)
    assert {b["data-period"] for b in parser.bars} == {"2023", "2024"}
    for b in parser.bars:
        t = next(t for t in reports[b["data-period"]].tables if t.name == b["data-table"])
        i = int(b["data-cell"])
        if b["data-kind"] == "exact":
            assert t.values[i] is not None and int(b["data-value"]) == t.values[i]
        else:
            assert t.values[i] is None and int(b["data-lo"]) == t.lo[i]
    # a report that is not signed by the coordinator is refused, in one line
    forged = tmp_path / "forged.dsse.json"
    forged.write_bytes((inbox / "KHM-2023.dsse.json").read_bytes())
    bad = vanfed(
        "trends", str(forged), "--registry", reg, "--out", str(tmp_path / "x.html"), root=federation
    )
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert not (tmp_path / "x.html").exists()
