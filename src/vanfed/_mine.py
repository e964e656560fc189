"""``vanfed audit --mine``: a node checks that a regional report includes its submission.

A node holds its receipt (the coordinator's signed word that the envelope was accepted as log
entry *i*, received at *t*) and the public report. Without the coordinator's inbox it can
still check: the report's signature; the receipt's signature and log checkpoint; that the
report's checkpoint is of the same log and covers entry *i*; and that the report uses the
envelope at index *i* — or a newer revision of the same country and period. A receipt issued
before the report that the report neither uses nor supersedes is a dropped submission.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from vanfed._audit import AuditVerdict
from vanfed._audit_checks import verified_receipt_payload, verified_report
from vanfed._json import read_limited
from vanfed.errors import ReasonCode, VanfedError, VerificationError
from vanfed.schema import Receipt, RegionalReport, TrustRegistry
from vanfed.signing import Reason
from vanfed.transport import log_keys, verified_checkpoint, verify_receipt

__all__ = ["audit_mine", "check_mine"]


def _receipt(
    path: Path, registry: TrustRegistry, now: dt.datetime, envelope: Path | None
) -> Receipt:
    if envelope is None:
        receipt = verified_receipt_payload(path, registry, now)
        verified_checkpoint(receipt.log.checkpoint.encode(), log_keys(registry))
        return receipt
    limit = registry.policy.max_envelope_bytes
    receipt, _ = verify_receipt(
        read_limited(path, limit), registry, envelope=read_limited(envelope, limit), now=now
    )
    return receipt


def _origin(note: str) -> str:
    return note.split("\n", 1)[0]


def check_mine(
    report: RegionalReport,
    receipt_path: Path,
    *,
    registry: TrustRegistry,
    now: dt.datetime,
    envelope: Path | None = None,
) -> tuple[list[Reason], str]:
    """Does the (verified) ``report`` include the submission ``receipt_path`` receipts?

    Args:
        report: the regional report, its signature already verified.
        receipt_path: the node's receipt.
        registry: the trust registry.
        now: reference time.
        envelope: the receipted envelope, to check the receipt's inclusion proof too.

    Returns:
        The reasons it does not (``receipt_invalid``, ``mine_missing``) and, when it does, a
        line saying how.
    """
    name = receipt_path.name
    try:
        r = _receipt(receipt_path, registry, now, envelope)
    except VerificationError as exc:
        return [Reason(ReasonCode.RECEIPT_INVALID, f"{name}: {exc}")], ""
    what = f"{name}: {r.country} {r.period} revision {r.revision} (log entry {r.log.index})"
    if r.period != report.period:
        return [
            Reason(
                ReasonCode.MINE_MISSING, f"{what} is not for the report's period {report.period}"
            )
        ], ""
    used = next((i for i in report.inputs if i.envelope_sha256 == r.envelope_sha256), None)
    if used is not None:
        if used.log_index not in (None, r.log.index):
            return [
                Reason(
                    ReasonCode.MINE_MISSING,
                    f"{what}: the report puts it at log index {used.log_index}",
                )
            ], ""
        if report.log_checkpoint and _origin(report.log_checkpoint) != _origin(r.log.checkpoint):
            return [
                Reason(ReasonCode.MINE_MISSING, f"{what}: the report is bound to another log")
            ], ""
        return [], f"{what} is an input of the report"
    newer = [i for i in report.inputs if i.country == r.country and i.revision > r.revision]
    if newer:
        return [], f"{what} is superseded by revision {newer[0].revision}, which the report uses"
    skipped = next((s for s in report.skipped if s.envelope_sha256 == r.envelope_sha256), None)
    why = (
        f"the report says it was skipped ({skipped.reason}: {skipped.message})"
        if skipped
        else "the report neither uses it nor lists it as skipped"
    )
    when = (
        f"it was received at {r.received_at}, after the report was made ({report.created_at})"
        if r.received_at >= report.created_at
        else f"it was received at {r.received_at}, before the report was made ({report.created_at})"
    )
    return [Reason(ReasonCode.MINE_MISSING, f"{what} is not in the report: {when}; {why}")], ""


def audit_mine(
    report_path: str | Path,
    receipts: list[Path],
    *,
    registry: TrustRegistry,
    now: dt.datetime,
    envelopes: Path | None = None,
) -> AuditVerdict:
    """A node's check that the report includes each receipted submission (``--mine``).

    Args:
        receipts: the node's receipt files.
        envelopes: a folder holding the receipted envelopes as ``<sha256-hex>.dsse.json``
            (the inbox), to check each receipt's inclusion proof too.
    """
    report, signer, failed = verified_report(Path(report_path), registry, now)
    if report is None:
        return AuditVerdict(None, failed)
    reasons, checked = [], [f"report signature by coordinator key {signer}"]
    for path in receipts:
        env = None
        if envelopes is not None:
            try:
                digest = verified_receipt_payload(path, registry, now).envelope_sha256
                env = envelopes / f"{digest[7:]}.dsse.json"
            except VanfedError:
                pass  # check_mine says why
        found, line = check_mine(report, path, registry=registry, now=now, envelope=env)
        reasons += found
        if line:
            checked.append(line)
    return AuditVerdict(report, reasons, checked)
