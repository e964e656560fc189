"""#13 items 2 and 3 through the real CLI: reports bound to an older checkpoint, a made-up
``skipped`` list, a node checking its own submission (``--mine``), and the anchored trust
registry (pinned roots, rollback, detached co-signing, several keys per version, key validity
judged when the log received the envelope)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

from vanfed._coordinator import LogView, bind_to_log, build_report, logged_below
from vanfed._demo import DEMO_PASSPHRASE
from vanfed.aggregate import merge, select_inputs
from vanfed.schema import (
    REPORT_TYPE,
    SUMMARY_TYPE,
    RegionalReport,
    Skipped,
    Summary,
    load_codebook,
)
from vanfed.signing import (
    envelope_digest,
    load_private,
    sign_envelope,
    timestamp,
    verify_registry,
)
from vanfed.testing import NOW, PASSPHRASE
from vanfed.transport import Inbox, TransparencyLog, log_folder, log_keys

DEMO = {"VANFED_PASSPHRASE": DEMO_PASSPHRASE.decode()}


def run(*args: str, extra: dict[str, str] | None = None) -> tuple[int, str]:
    p = subprocess.run(
        [sys.executable, "-m", "vanfed", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "VANFED_PASSPHRASE": PASSPHRASE, **(extra or {})},
        timeout=300,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return p.returncode, " ".join((p.stdout + p.stderr).split())  # rich wraps long lines


def payload(path: Path) -> dict:
    return json.loads(base64.b64decode(json.loads(path.read_text())["payload"]))


def signed_report(fed: Path, report: RegionalReport, files: dict[str, bytes], name: str) -> Path:
    """Write and sign a report as the coordinator (who holds its key) would."""
    folder = fed / name
    folder.mkdir()
    for n, data in files.items():
        (folder / n).write_bytes(data)
    key = load_private(fed / "keys" / "coordinator", DEMO_PASSPHRASE)
    env_bytes = sign_envelope(report.canonical_bytes(), REPORT_TYPE, [key]).to_bytes()
    (folder / "regional.dsse.json").write_bytes(env_bytes)
    return folder / "regional.dsse.json"


def report_at_checkpoint(fed: Path, size: int, made_at: dt.datetime, name: str) -> Path:
    """A coordinator that builds its report from an older checkpoint of its own log."""
    reg = verify_registry((fed / "registry.dsse.json").read_bytes(), now=NOW)
    log = TransparencyLog.read(log_folder(fed / "inbox"), log_keys(reg))
    note = next(n for cp, n in log.checkpoints if cp.size == size)
    view = LogView(note, size, logged_below(log, size), log)
    chosen, skipped = select_inputs(
        fed / "inbox",
        reg,
        period="2024",
        now=made_at,
        logged=view.logged,
        received_at=view.received_at,
    )
    cb = load_codebook()
    body = merge(
        chosen,
        period="2024",
        report_id="0" * 32,
        created_at=timestamp(made_at),
        codebook=cb,
        skipped=[s for s in skipped if s.reason != "not_logged"],
    )
    body = body.model_copy(update={"registry": reg.ref})
    report, files = build_report(
        bind_to_log(body, view), cb, summaries=[sel.summary for sel in chosen]
    )
    return signed_report(fed, report, files, name)


def test_report_records_the_registry_and_a_node_finds_its_submission(fed: Path) -> None:
    report = fed / "regional" / "regional.dsse.json"
    reg = verify_registry((fed / "registry.dsse.json").read_bytes(), now=NOW)
    assert payload(report)["registry"] == {"version": 1, "digest": reg.digest}
    # A node with only the public report and its receipt (no inbox).
    code, text = run(
        "audit", str(report), "--registry", str(fed / "registry.dsse.json"),
        "--mine", str(fed / "receipts" / "khm.dsse.json"),
    )  # fmt: skip
    assert code == 0, text
    assert "KHM 2024 revision 1 (log entry" in text and "is an input of the report" in text


def test_report_bound_to_an_older_checkpoint_fails(fed: Path) -> None:
    """Every receipted submission was received before the report was made; one is outside
    the report's checkpoint: the audit fails (from the log, and from the receipts), and the
    node whose submission was left out is told so by --mine."""
    report = report_at_checkpoint(fed, 4, NOW + dt.timedelta(hours=1), "late")
    reg = str(fed / "registry.dsse.json")
    code, text = run("audit", str(report), "--inputs", str(fed / "inbox"), "--registry", reg)
    assert code == 1 and "FAIL stale_checkpoint: 1 log entries received before the report" in text
    code, text = run(
        "audit", str(report), "--inputs", str(fed / "inbox"), "--registry", reg,
        "--receipts", str(fed / "receipts"),
    )  # fmt: skip
    assert code == 1 and "was receipted at 2026-11-22T12:00:00Z, before the report" in text
    left_out = next(
        f for f in sorted((fed / "receipts").glob("*.dsse.json")) if payload(f)["log"]["index"] == 4
    )
    code, text = run("audit", str(report), "--registry", reg, "--mine", str(left_out))
    assert code == 1
    assert "FAIL mine_missing:" in text and "before the report was made" in text
    # The same older checkpoint is fine for a report made before the fifth submission.
    early = report_at_checkpoint(fed, 4, NOW - dt.timedelta(hours=1), "early")
    code, text = run("audit", str(early), "--inputs", str(fed / "inbox"), "--registry", reg)
    assert code == 0, text


def test_made_up_skipped_entry_fails(fed: Path) -> None:
    src = fed / "regional" / "regional.dsse.json"
    report = RegionalReport.model_validate(payload(src))
    fake = Skipped(
        file="f" * 64 + ".dsse.json",
        envelope_sha256="sha256:" + "f" * 64,
        country="MMR",
        reason="bad_signature",
        message="signature does not verify",
    )
    body = report.model_copy(update={"skipped": (*report.skipped, fake)})
    body, files = build_report(body, load_codebook())
    forged = signed_report(fed, body, files, "forged")
    code, text = run(
        "audit", str(forged), "--inputs", str(fed / "inbox"),
        "--registry", str(fed / "registry.dsse.json"),
    )  # fmt: skip
    assert code == 1
    assert "FAIL skipped_mismatch: the report says MMR was skipped (bad_signature)" in text


def test_revoking_a_key_later_does_not_fail_an_earlier_report(fed: Path) -> None:
    lao = payload(fed / "nodes" / "LAO" / "summary.dsse.json")["country"]
    keyid = json.loads((fed / "nodes" / "LAO" / "summary.dsse.json").read_text())["signatures"][0][
        "keyid"
    ]
    assert lao == "LAO"
    code, text = run(
        "registry", "revoke", str(fed / "registry.dsse.json"), "--keyid", keyid,
        "--reason", "laptop stolen", "--root-key", str(fed / "keys" / "root1"),
        "--root-key", str(fed / "keys" / "root2"), "--out", str(fed / "r2.json"),
        extra=DEMO,
    )  # fmt: skip
    assert code == 0, text
    # The report (built under v1, LAO received before the revocation) still passes under v2.
    code, text = run(
        "audit", str(fed / "regional" / "regional.dsse.json"), "--inputs", str(fed / "inbox"),
        "--registry", str(fed / "r2.json"), "--receipts", str(fed / "receipts"),
    )  # fmt: skip
    assert code == 0, text
    assert "report built under registry v1 (audited with v2)" in text
    # A fresh LAO envelope checked now is refused: the key is revoked before its time.
    code, text = run(
        "verify", str(fed / "nodes" / "LAO" / "summary.dsse.json"), "--registry",
        str(fed / "r2.json"),
    )  # fmt: skip
    assert code == 1 and "key_revoked" in text
    # ...and the v1 registry is now a rollback, caught without --previous.
    code, text = run("registry", "verify", str(fed / "registry.dsse.json"))
    assert code == 1 and "older than v2, the newest already verified: a rollback" in text


def keygen(folder: Path, name: str, role: str, *extra: str) -> Path:
    code, text = run("keygen", "--role", role, *extra, "--out", str(folder / name))
    assert code == 0, text
    return folder / name


def test_pinned_registry_cosigned_on_separate_machines(tmp_path: Path) -> None:
    """Three root holders (2 of 3): init pins the roots; v2 adds two node keys from a batch
    file as one draft, signed by two holders apart and combined; a registry minted from
    scratch, a lone signature and an older version are refused."""
    roots = [keygen(tmp_path, f"root{i}", "root") for i in range(3)]
    nodes = {c: keygen(tmp_path, f"node-{c}", "node", "--country", c) for c in ("KHM", "LAO")}
    r1 = tmp_path / "r1.json"
    code, text = run(
        "registry", "init", *(a for r in roots for a in ("--root", f"{r}.pub")),
        "--threshold", "2", "--root-key", str(roots[0]), "--root-key", str(roots[1]),
        "--out", str(r1),
    )  # fmt: skip
    assert code == 0 and "trust root pinned: 3 root keys" in text, text
    batch = tmp_path / "new-keys.toml"
    batch.write_text(
        "".join(
            f'[[keys]]\npub = "{p.name}.pub"\nrole = "node"\ncountry = "{c}"\n'
            for c, p in nodes.items()
        )
    )
    draft = tmp_path / "draft-v2.json"
    code, text = run("registry", "add-key", str(r1), "--batch", str(batch), "--out", str(draft))
    assert code == 0 and "draft v2" in text and "added node KHM" in text, text
    # the same two keys with repeated options; a country missing is a one-line usage error
    pubs = [a for p in nodes.values() for a in ("--pub", f"{p}.pub")]
    code, text = run(
        "registry", "add-key", str(r1), *pubs, "--role", "node", "--country", "KHM",
        "--out", str(tmp_path / "bad.json"),
    )  # fmt: skip
    assert code == 2 and "--country: 2 node keys need 2 countries, got 1" in text
    code, text = run(
        "registry", "add-key", str(r1), *pubs, "--role", "node", "--country", "KHM",
        "--country", "LAO", "--out", str(tmp_path / "draft-b.json"),
    )  # fmt: skip
    assert code == 0, text

    def added(path: Path) -> list[tuple[str, str, str]]:
        keys = json.loads(path.read_text())["keys"]
        return [(k["keyid"], k["role"], k["country"]) for k in keys if k["role"] == "node"]

    assert added(tmp_path / "draft-b.json") == added(draft)
    assert [c for _, _, c in added(draft)] == ["KHM", "LAO"]
    sigs = []
    for i in (0, 2):  # each holder on their own machine, with only their own key
        sig = tmp_path / f"sig{i}.json"
        code, text = run(
            "registry", "sign", str(draft), "--root-key", str(roots[i]), "--out", str(sig)
        )
        assert code == 0 and "signing registry draft v2" in text, text
        sigs.append(sig)
    r2 = tmp_path / "r2.json"
    code, text = run("registry", "combine", str(draft), str(sigs[0]), "--out", str(r2))
    assert code == 1 and "signed by 1 of its own root keys, needs 2" in text, text
    code, text = run(
        "registry", "combine", str(draft), *map(str, sigs), "--previous", str(r1), "--out", str(r2)
    )
    assert code == 0, text
    code, text = run("registry", "show", str(r2))
    keys = json.JSONDecoder().raw_decode(text, text.index("{"))[0]["keys"]
    assert code == 0 and {k["country"] for k in keys if k["role"] == "node"} == {"KHM", "LAO"}
    # v1 again is a rollback now that v2 was seen (no --previous needed)
    code, text = run("registry", "verify", str(r1))
    assert code == 1 and "registry v1 is older than v2" in text
    # a registry minted from scratch with new roots verifies on its own, but is refused
    mint = tmp_path / "mint"
    mint.mkdir()
    evil = keygen(mint, "evil-root", "root")
    scratch = mint / "registry.json"
    code, _ = run(
        "registry", "init", "--root", f"{evil}.pub", "--threshold", "1", "--root-key", str(evil),
        "--out", str(scratch),
    )  # fmt: skip
    assert code == 0
    code, text = run("registry", "verify", str(scratch))
    assert code == 1 and "not signed by 2 of the 3 pinned root keys" in text
    code, text = run("verify", str(r2), "--registry", str(scratch))
    assert code == 1 and "not signed by 2 of the 3 pinned root keys" in text


def test_no_trust_root_and_explicit_pinning(tmp_path: Path) -> None:
    root = keygen(tmp_path, "root", "root")
    reg = tmp_path / "r1.json"
    other = {"VANFED_TRUST_ROOT": str(tmp_path / "elsewhere.json")}
    code, _ = run(
        "registry", "init", "--root", f"{root}.pub", "--threshold", "1", "--root-key", str(root),
        "--out", str(reg),
    )  # fmt: skip
    assert code == 0
    code, text = run("registry", "show", str(reg), extra=other)
    assert code == 2 and "no trust root pinned" in text and "vanfed registry trust-root" in text
    code, text = run("registry", "trust-root", str(reg), "--expect-root", "0" * 16, extra=other)
    assert code == 2 and "is not one of its root keys" in text
    keyid = (tmp_path / "root.keyid").read_text().strip()
    code, text = run("registry", "trust-root", str(reg), "--expect-root", keyid, extra=other)
    assert code == 0 and f"root {keyid}" in text, text
    code, _ = run("registry", "show", str(reg), extra=other)
    assert code == 0


def test_report_silently_using_revision_1_instead_of_2_fails(fed: Path) -> None:
    """KHM sends revision 2 (receipted); the coordinator builds its report an hour later from
    the checkpoint before it, so revision 1 is used: the audit and KHM's --mine catch it."""
    reg = verify_registry((fed / "registry.dsse.json").read_bytes(), now=NOW)
    khm = fed / "nodes" / "KHM" / "summary.dsse.json"
    rev2 = Summary.model_validate(payload(khm)).model_copy(
        update={
            "revision": 2,
            "supersedes": envelope_digest(khm.read_bytes()),
        }
    )
    node = load_private(fed / "keys" / "node-khm", DEMO_PASSPHRASE)
    envelope = sign_envelope(rev2.canonical_bytes(), SUMMARY_TYPE, [node]).to_bytes()
    box = Inbox(
        fed / "inbox",
        reg,
        coordinator=load_private(fed / "keys" / "coordinator", DEMO_PASSPHRASE),
        log_key=load_private(fed / "keys" / "log", DEMO_PASSPHRASE),
        now=lambda: NOW + dt.timedelta(minutes=10),
    )
    try:
        accepted = box.accept(envelope)
    finally:
        box.close()
    receipt = fed / "khm-rev2.dsse.json"
    receipt.write_bytes(accepted.receipt)
    old = report_at_checkpoint(fed, 5, NOW + dt.timedelta(hours=1), "old")
    assert {(i["country"], i["revision"]) for i in payload(old)["inputs"]} >= {("KHM", 1)}
    args = ("--inputs", str(fed / "inbox"), "--registry", str(fed / "registry.dsse.json"))
    code, text = run("audit", str(old), *args, "--mine", str(receipt))
    assert code == 1 and "FAIL stale_checkpoint" in text
    assert "FAIL mine_missing: khm-rev2.dsse.json: KHM 2024 revision 2 (log entry 5)" in text
    # The honest report, from the newest checkpoint, uses revision 2 and passes.
    fresh = report_at_checkpoint(fed, 6, NOW + dt.timedelta(hours=1), "fresh")
    assert ("KHM", 2) in {(i["country"], i["revision"]) for i in payload(fresh)["inputs"]}
    code, text = run("audit", str(fresh), *args, "--mine", str(receipt))
    assert code == 0, text


def test_a_stray_file_outside_the_log_is_told_but_not_signed(fed: Path) -> None:
    """An envelope dropped into the inbox by hand is no input of a log-bound report: the
    merge tells the operator, the signed skipped list stays a function of the log, and the
    audit (which rebuilds that list) passes."""
    from vanfed import Coordinator, audit

    reg = verify_registry((fed / "registry.dsse.json").read_bytes(), now=NOW)
    stray = fed / "inbox" / "stray.dsse.json"
    stray.write_bytes((fed / "nodes" / "KHM" / "summary.dsse.json").read_bytes()[:-2] + b"}}")
    coord = Coordinator(reg, load_private(fed / "keys" / "coordinator", DEMO_PASSPHRASE))
    out = coord.merge(fed / "inbox", period="2024", now=NOW)
    assert [s.reason for s in out.outside_log] == ["not_logged"]
    assert all(s.file != "stray.dsse.json" for s in out.report.skipped)
    out.write(fed / "again")
    verdict = audit(
        fed / "again" / "regional.dsse.json", inputs=fed / "inbox", registry=reg, now=NOW
    )
    assert verdict.ok, verdict.reasons
