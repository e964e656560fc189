"""Reports bound to the transparency log: a coordinator that drops an accepted submission
is caught by the audit — whether it leaves the envelope in the inbox, withholds it, or even
rewrites and re-signs its own log (then the nodes' receipts give it away)."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

from vanfed import Coordinator, audit
from vanfed._coordinator import build_report
from vanfed._demo import DEMO_PASSPHRASE
from vanfed.schema import REPORT_TYPE, TrustRegistry, load_codebook
from vanfed.signing import Envelope, KeyPair, load_private, sign_envelope, verify_registry
from vanfed.testing import NOW
from vanfed.testing import run_cli as vanfed
from vanfed.transport import Inbox, TransparencyLog, log_folder, log_keys


def keys(fed: Path, name: str) -> KeyPair:
    return load_private(fed / "keys" / name, DEMO_PASSPHRASE)


def registry(fed: Path) -> TrustRegistry:
    return verify_registry((fed / "registry.dsse.json").read_bytes(), now=NOW)


def codes(fed: Path, report: Path, inbox: Path, receipts: bool = False) -> set[str]:
    verdict = audit(
        report,
        inputs=inbox,
        registry=registry(fed),
        now=NOW,
        receipts=fed / "receipts" if receipts else None,
    )
    return {r.code for r in verdict.reasons}


def receipt_payload(fed: Path, country: str) -> dict:
    payload = json.loads((fed / "receipts" / f"{country}.dsse.json").read_text())["payload"]
    return json.loads(base64.b64decode(payload))


def lao_digest(fed: Path) -> str:
    return receipt_payload(fed, "lao")["envelope_sha256"]


def dishonest_report(fed: Path, inbox: Path, hide: str) -> Path:
    """What a coordinator that leaves one accepted envelope out would publish."""
    aside = fed / "aside.dsse.json"
    src = inbox / f"{hide[7:]}.dsse.json"
    shutil.move(src, aside)
    # Without the file, merging would flag the log; a dishonest coordinator simply merges a
    # copy of the inbox without the log and without the envelope, and signs the result.
    scratch = fed / "scratch"
    shutil.copytree(inbox, scratch, ignore=shutil.ignore_patterns(".vanfed"))
    out = Coordinator(registry(fed), keys(fed, "coordinator")).merge(
        scratch, period="2024", now=NOW
    )
    shutil.move(aside, src)
    log = TransparencyLog.read(log_folder(inbox), log_keys(registry(fed)))
    report = out.report.model_copy(
        update={
            "log_checkpoint": log.checkpoints[-1][1].decode(),
            "inputs": tuple(
                r.model_copy(update={"log_index": log.by_digest[r.envelope_sha256]})
                for r in out.report.inputs
            ),
        }
    )
    report, files = build_report(report, load_codebook())
    folder = fed / "dishonest"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    env = sign_envelope(report.canonical_bytes(), REPORT_TYPE, [keys(fed, "coordinator")])
    (folder / "regional.dsse.json").write_bytes(env.to_bytes())
    return folder / "regional.dsse.json"


def test_the_honest_report_passes_with_receipts(fed: Path) -> None:
    report = fed / "regional" / "regional.dsse.json"
    assert codes(fed, report, fed / "inbox", receipts=True) == set()
    body = json.loads(Envelope.from_bytes(report.read_bytes()).payload)
    assert body["log_checkpoint"].startswith("armac.vanfed/log\n5\n")
    assert sorted(r["log_index"] for r in body["inputs"]) == [0, 1, 2, 3, 4]


def test_dropped_submission_left_in_the_inbox(fed: Path) -> None:
    report = dishonest_report(fed, fed / "inbox", lao_digest(fed))
    assert "input_dropped" in codes(fed, report, fed / "inbox")


def test_dropped_submission_withheld_from_the_auditor(fed: Path) -> None:
    hide = lao_digest(fed)
    report = dishonest_report(fed, fed / "inbox", hide)
    (fed / "inbox" / f"{hide[7:]}.dsse.json").unlink()
    assert "log_entry_missing" in codes(fed, report, fed / "inbox")


def test_rewritten_log_is_caught_by_the_receipts(fed: Path) -> None:
    """The coordinator holds the log key, so it can build a fresh log without LAO and sign
    it; the report then agrees with that log — but not with LAO's receipt."""
    hide = lao_digest(fed)
    forged = fed / "forged-inbox"
    box = Inbox(
        forged,
        registry(fed),
        coordinator=keys(fed, "coordinator"),
        log_key=keys(fed, "log"),
        now=lambda: NOW,
    )
    for p in sorted((fed / "inbox").glob("*.dsse.json")):
        if p.name != f"{hide[7:]}.dsse.json":
            box.accept(p.read_bytes())
    box.close()
    out = Coordinator(registry(fed), keys(fed, "coordinator")).merge(forged, period="2024", now=NOW)
    out.write(fed / "forged-regional")
    report = fed / "forged-regional" / "regional.dsse.json"
    assert codes(fed, report, forged) == set()  # consistent with itself...
    found = codes(fed, report, forged, receipts=True)
    assert "log_forked" in found or "log_entry_missing" in found  # ...not with the receipts


def test_log_cli_for_auditors(fed: Path, tmp_path: Path) -> None:
    reg = str(fed / "registry.dsse.json")
    inbox = fed / "inbox"
    cp = vanfed("log", "checkpoint", "--inbox", str(inbox), "--registry", reg)
    assert cp.returncode == 0 and cp.stdout.startswith("armac.vanfed/log\n5\n")
    envelope = next(inbox.glob("*.dsse.json"))
    proof = vanfed("log", "prove", str(envelope), "--inbox", str(inbox), "--registry", reg)
    assert proof.returncode == 0, proof.stderr
    (tmp_path / "proof.json").write_text(proof.stdout)
    ok = vanfed(
        "log", "verify", str(envelope), "--proof", str(tmp_path / "proof.json"), "--registry", reg
    )
    assert ok.returncode == 0 and "included at index" in " ".join(ok.stdout.split())
    khm = inbox / f"{receipt_payload(fed, 'khm')['envelope_sha256'][7:]}.dsse.json"
    receipt = fed / "receipts" / "khm.dsse.json"
    by_receipt = vanfed("log", "verify", str(khm), "--proof", str(receipt), "--registry", reg)
    assert by_receipt.returncode == 0, by_receipt.stderr
    other = next(p for p in inbox.glob("*.dsse.json") if p != envelope)
    bad = vanfed(
        "log", "verify", str(other), "--proof", str(tmp_path / "proof.json"), "--registry", reg
    )
    assert bad.returncode == 1 and "NOT at index" in bad.stderr
    # Consistency between the first receipt's checkpoint and the latest one.
    first = receipt_payload(fed, "khm")["log"]["checkpoint"]
    (tmp_path / "old.note").write_text(first)
    (tmp_path / "new.note").write_text(cp.stdout)
    cons = vanfed(
        "log",
        "consistency",
        str(tmp_path / "old.note"),
        str(tmp_path / "new.note"),
        "--inbox",
        str(inbox),
        "--registry",
        reg,
    )
    assert cons.returncode == 0 and "consistent" in cons.stdout
