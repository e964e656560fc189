"""The cell key method end to end: CKM and suppression nodes → coordinator → auditor, and
``vanfed summarize --method ckm`` in a subprocess."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path
from random import Random

import numpy as np
import pytest
from tests.integration.test_cli import PASS, one_line_error, vanfed

from vanfed import Coordinator, Node, audit
from vanfed.aggregate import select_inputs
from vanfed.anonymize import build_ptable
from vanfed.errors import InputError, ProtectionError
from vanfed.schema import CkmParams, Policy, Summary, TrustRegistry, load_mapping
from vanfed.signing import init_registry, verification_result
from vanfed.synthetic import write_export
from vanfed.testing import NOW, Trust

CKM = ("KHM", "LAO")
SUPPRESSION = ("MMR", "THA", "VNM")
AGREED = build_ptable(CkmParams(max_noise=5, variance=3.0, js=4)).record()


def _registry(trust: Trust, policy: Policy) -> TrustRegistry:
    reg = trust.registry
    return init_registry(
        [],
        threshold=reg.root_threshold,
        now=NOW - dt.timedelta(days=1),
        keys=reg.keys,
        policy=policy,
    )


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory, trust: Trust):
    root = tmp_path_factory.mktemp("ckmfed")
    inbox = root / "inbox"
    inbox.mkdir()
    registry = _registry(trust, Policy(ckm=AGREED))
    rng = Random(11)
    summaries = {}
    for c in (*CKM, *SUPPRESSION):
        ex = write_export(c, root / "exports", seed=21)
        if c in CKM:
            node = Node(c, method="ckm", agreed=AGREED, record_keys=root / "nodes" / c)
        else:
            node = Node(c)
        rec = node.ingest(ex.path, load_mapping(ex.mapping_path), today=NOW.date())
        summaries[c] = node.summarize(rec, period="2024", now=NOW, rng=rng)
        (inbox / f"{c}.dsse.json").write_bytes(node.sign(summaries[c], trust.nodes[c]))
    out = Coordinator(registry, trust.coordinator).merge(inbox, period="2024", now=NOW, rng=rng)
    out.write(root / "regional")
    return root, inbox, out, summaries, registry


def test_ckm_summaries_publish_every_cell_and_state_their_noise(fed) -> None:
    _, _, _, summaries, _ = fed
    for c in CKM:
        s = summaries[c]
        assert s.protection.ckm == AGREED and s.protection.perturbed
        assert all(v is not None for t in s.tables for v in t.values)
        assert not any(0 < v < 5 for t in s.tables for v in t.values if v is not None)
    # Suppression summaries keep their exact bytes: no ckm field appears.
    assert b'"ckm"' not in summaries["MMR"].canonical_bytes()
    assert b'"ckm"' not in Policy().canonical_bytes()


def test_regional_cells_sum_perturbed_national_cells_and_are_marked(fed) -> None:
    root, _, out, summaries, _ = fed
    report = out.report
    assert report.noise == (AGREED,)
    countries = report.tables[0].axes[0].codes
    for t in report.tables:
        assert t.perturbed is not None
        shape = t.shape
        flags = np.array(t.perturbed).reshape(shape)
        vals = np.array([-1 if v is None else v for v in t.values]).reshape(shape)
        for ci, c in enumerate(countries[:-1]):
            assert flags[ci].all() == (c in CKM) and flags[ci].any() == (c in CKM)
            if c in CKM:
                national = summaries[c].table(t.name)
                nat = np.array(national.values).reshape(national.shape)
                ix = tuple(
                    -1 if a.dim == "admin1" else slice(None) for a in national.axes
                )  # national-only axes at _T
                assert np.array_equal(vals[ci], nat[ix])
        assert flags[-1].all()  # the region sums perturbed counts everywhere
        exact = (vals[:-1] >= 0).all(axis=0)
        assert np.array_equal(vals[-1][exact], vals[:-1].sum(axis=0)[exact])
    html = (root / "regional" / "report.html").read_text()
    assert 'id="noise"' in html and "maximum noise 5, variance 3" in html
    assert 'class="perturbed"' in html and "not additive" in html


def test_audit_passes_and_rechecks_the_agreed_noise(fed, trust: Trust) -> None:
    root, inbox, _, _, registry = fed
    verdict = audit(
        root / "regional" / "regional.dsse.json", inputs=inbox, registry=registry, now=NOW
    )
    assert verdict.ok, verdict.reasons
    # Under a registry that agrees on other noise, the same inputs fail the policy.
    other = build_ptable(CkmParams(max_noise=6, variance=3.0, js=4)).record()
    stricter = _registry(trust, Policy(ckm=other))
    bad = audit(root / "regional" / "regional.dsse.json", inputs=inbox, registry=stricter, now=NOW)
    assert not bad.ok
    allowed = {"input_invalid", "missing_input", "input_dropped", "registry_mismatch"}
    assert {r.code for r in bad.reasons} <= allowed
    assert any("cell key method" in r.message for r in bad.reasons)


@pytest.mark.parametrize(
    ("policy", "expect"),
    [
        (Policy(), "does not allow the cell key method"),
        (
            Policy(ckm=build_ptable(CkmParams(max_noise=5, variance=2.0, js=4)).record()),
            "differ from the registry",
        ),
        (Policy(ckm=AGREED.model_copy(update={"ptable_digest": "sha256:" + "0" * 64})), "digest"),
        (Policy(min_k=6, ckm=AGREED), "k >= 6"),
    ],
)
def test_coordinator_refuses_ckm_outside_the_policy(fed, trust, policy, expect) -> None:
    _, inbox, _, _, _ = fed
    data = (inbox / "KHM.dsse.json").read_bytes()
    res = verification_result(data, _registry(trust, policy), now=NOW)
    assert not res.ok and "policy_violation" in res.codes
    assert any(expect in r.message for r in res.reasons), res.reasons


def test_node_refuses_a_ptable_other_than_the_agreed_one(tmp_path: Path) -> None:
    ex = write_export("THA", tmp_path, seed=1)
    wrong = AGREED.model_copy(update={"ptable_digest": "sha256:" + "1" * 64})
    node = Node("THA", method="ckm", agreed=wrong, record_keys=tmp_path / "keys")
    rec = node.ingest(ex.path, load_mapping(ex.mapping_path), today=NOW.date())
    with pytest.raises(InputError, match="not the one the registry names"):
        node.summarize(rec, period="2024", now=NOW)


def test_cli_summarize_ckm_keeps_record_keys_in_the_ledger(tmp_path: Path) -> None:
    ex = write_export("THA", tmp_path / "ex", seed=2)
    base = [
        "summarize", str(ex.path), "--mapping", str(ex.mapping_path), "--country", "THA",
        "--accept-quality",
    ]  # fmt: skip
    base += ["--period", "2024", "--method", "ckm", "--ledger", str(tmp_path / "ledger")]
    first = vanfed(*base, "--out", str(tmp_path / "a.json"))
    assert first.returncode == 0, first.stderr
    said = " ".join(first.stdout.split())  # rich wraps long lines
    assert "cell-key noise (D=5, V=3, js=4" in said and "do not add up" in said
    assert (tmp_path / "ledger" / "record-keys" / "record-keys.bin").exists()
    second = vanfed(*base, "--out", str(tmp_path / "b.json"))
    elsewhere = vanfed(*base, "--record-keys", str(tmp_path / "k2"), "--out", str(tmp_path / "c"))
    assert second.returncode == 0 and elsewhere.returncode == 0, second.stderr + elsewhere.stderr
    a, b, c = (
        Summary.model_validate(json.loads((tmp_path / f).read_bytes()))
        for f in ("a.json", "b.json", "c")
    )
    assert a.tables == b.tables and a.protection.ckm is not None  # the same keys, kept
    assert a.tables != c.tables  # other keys, other noise
    bad = vanfed(*base, "--ckm-js", "9", "--out", str(tmp_path / "d.json"))
    assert "--ckm-" in one_line_error(bad)


def test_cli_ckm_revision_with_one_late_record_keeps_every_number(tmp_path: Path) -> None:
    """summarize → sign → summarize again with one late 2024 row: no cell changed by k = 5
    records, so the revision repeats every number of revision 1 (sticky noise) instead of
    showing which cells the late record joined."""
    ex = write_export("KHM", tmp_path / "ex", seed=6)
    rows = ex.path.read_text(encoding="utf-8-sig").splitlines()
    late = next(
        i
        for i, row in enumerate(rows)
        if row.split(",")[1].endswith("/2024") and row.split(",")[3] in ("Male", "Female")
    )
    early = tmp_path / "early.csv"
    early.write_text("\n".join(rows[:late] + rows[late + 1 :]) + "\n", encoding="utf-8")
    key = vanfed(
        "keygen", "--role", "node", "--country", "KHM", "--out", str(tmp_path / "k"), env=PASS
    )
    assert key.returncode == 0, key.stderr
    ledger = ["--ledger", str(tmp_path / "ledger")]

    def summarize(export: Path, out: str) -> subprocess.CompletedProcess[str]:
        return vanfed(
            *("summarize", str(export), "--mapping", str(ex.mapping_path), "--country", "KHM"),
            *("--accept-quality", "--period", "2024", "--method", "ckm", *ledger),
            *("--out", str(tmp_path / out)),
        )

    assert summarize(early, "r1.json").returncode == 0
    signed = vanfed(
        *("sign", str(tmp_path / "r1.json"), "--key", str(tmp_path / "k"), *ledger),
        *("--out", str(tmp_path / "r1.dsse.json"), "--accept-quality"),
        env=PASS,
    )
    assert signed.returncode == 0, signed.stderr
    revised = summarize(ex.path, "r2.json")
    assert revised.returncode == 0, revised.stderr
    r1, r2 = (
        Summary.model_validate(json.loads((tmp_path / f).read_bytes()))
        for f in ("r1.json", "r2.json")
    )
    assert r2.revision == 2 and r2.tables == r1.tables


def test_cli_registry_agrees_on_noise_and_summarize_follows_it(tmp_path: Path) -> None:
    key = vanfed("keygen", "--role", "root", "--out", str(tmp_path / "root"), env=PASS)
    assert key.returncode == 0, key.stderr
    init = ["registry", "init", "--root", str(tmp_path / "root.pub"), "--threshold", "1"]
    init += ["--root-key", str(tmp_path / "root")]
    made = vanfed(*init, "--ckm", "5,3,4", "--out", str(tmp_path / "r.json"), env=PASS)
    assert made.returncode == 0, made.stderr
    shown = json.loads(vanfed("registry", "show", str(tmp_path / "r.json")).stdout)
    assert shown["policy"]["ckm"] == AGREED.to_json_obj()
    bad = vanfed(*init, "--ckm", "5,3", "--out", str(tmp_path / "x.json"), env=PASS)
    assert "--ckm '5,3'" in one_line_error(bad)
    ex = write_export("LAO", tmp_path / "ex", seed=3)
    run = vanfed(
        *("summarize", str(ex.path), "--mapping", str(ex.mapping_path), "--country", "LAO"),
        "--accept-quality",
        *("--period", "2024", "--method", "ckm", "--ledger", str(tmp_path / "ledger")),
        *("--registry", str(tmp_path / "r.json"), "--out", str(tmp_path / "s.json")),
    )
    assert run.returncode == 0, run.stderr
    s = Summary.model_validate(json.loads((tmp_path / "s.json").read_bytes()))
    assert s.protection.ckm == AGREED


def test_ckm_revisions_through_the_ledger_and_the_door(tmp_path: Path, trust: Trust) -> None:
    """The ledger numbers CKM revisions and keeps their envelopes; the door's checks let
    CKM summaries through (not additive by design) and the history attack leaves them out;
    suppression of the same year from the same ledger is refused."""
    ex = write_export("KHM", tmp_path / "ex", seed=4)
    node = Node("KHM", method="ckm", agreed=AGREED, ledger=tmp_path / "ledger")
    rec = node.ingest(ex.path, load_mapping(ex.mapping_path), today=NOW.date())
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    first = node.summarize(rec, period="2024", now=NOW, rng=Random(1))
    (inbox / "r1.dsse.json").write_bytes(node.sign(first, trust.nodes["KHM"]))
    later = NOW + dt.timedelta(hours=1)
    second = node.summarize(rec, period="2024", now=later, rng=Random(2))
    assert second.revision == 2 and second.tables == first.tables  # same records, same noise
    (inbox / "r2.dsse.json").write_bytes(node.sign(second, trust.nodes["KHM"]))
    assert (tmp_path / "ledger" / "record-keys" / "record-keys.bin").exists()
    registry = _registry(trust, Policy(ckm=AGREED))
    chosen, skipped = select_inputs(inbox, registry, period="2024", now=later)
    assert [s.summary.revision for s in chosen] == [2]
    assert [s.reason for s in skipped] == ["superseded"]
    # A year keeps its method: exact cells beside noisy ones of the same records would
    # reveal the noise, so suppression from the same ledger is refused before any work.
    plain = Node("KHM", ledger=tmp_path / "ledger")
    rec2 = plain.ingest(ex.path, load_mapping(ex.mapping_path), today=NOW.date())
    with pytest.raises(ProtectionError, match="publish it with the cell key method"):
        plain.summarize(rec2, period="2024-Q2", now=later + dt.timedelta(hours=1))
