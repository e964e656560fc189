"""``vanfed.audit``: recompute a regional report from its signed inputs and compare bytes.

Checks, each failing with a stable reason code: the report's signature by a coordinator key
(``report_invalid``); every input present (``missing_input``) and valid (``input_invalid``);
the inbox holds no newer or extra valid input that the report left out (``input_dropped``);
the merge replays to the same canonical bytes (``replay_mismatch``); every input passes the
interval-attack audit again (``protection_failed``); every artifact matches its digest and
re-renders identically (``artifact_mismatch``, ``artifact_missing``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from vanfed._coordinator import ARTIFACTS, build_report
from vanfed._json import read_limited
from vanfed.aggregate import Selected, merge, select_inputs
from vanfed.anonymize import reaudit
from vanfed.schema import (
    REPORT_TYPE,
    Codebook,
    RegionalReport,
    TrustRegistry,
    load_codebook,
)
from vanfed.signing import Reason, verification_result

__all__ = ["AuditVerdict", "audit"]


@dataclass(frozen=True)
class AuditVerdict:
    report: RegionalReport | None
    reasons: list[Reason] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.report is not None and not self.reasons


def _no_checks(*_: object) -> list[Reason]:
    return []


def audit(
    report_path: str | Path,
    *,
    inputs: str | Path,
    registry: TrustRegistry,
    now: dt.datetime,
    codebook: Codebook | None = None,
) -> AuditVerdict:
    """Audit a signed regional report against the folder of input envelopes."""
    cb = codebook or load_codebook()
    path = Path(report_path)
    data = read_limited(path, registry.policy.max_envelope_bytes * 16)
    res = verification_result(
        data,
        registry,
        now=now,
        payload_type=REPORT_TYPE,
        model=RegionalReport,
        role="coordinator",
        check=_no_checks,
    )
    if not res.ok or res.payload is None:
        return AuditVerdict(
            None,
            [Reason("report_invalid", f"{path.name}: {r.code}: {r.message}") for r in res.reasons],
        )
    report: RegionalReport = res.payload
    reasons: list[Reason] = []
    checked = [f"report signature by coordinator key {res.signer}"]
    # One pass over the inbox verifies every envelope; the report's inputs must be exactly
    # the current valid ones (nothing missing, invalid, superseded or left out).
    current, skipped = select_inputs(inputs, registry, period=report.period, now=now)
    valid = {sel.digest: sel for sel in current}
    unused = {s.envelope_sha256: s for s in skipped if s.envelope_sha256}
    chosen: list[Selected] = []
    for ref in report.inputs:
        sel = valid.get(ref.envelope_sha256)
        if sel is None:
            skip = unused.get(ref.envelope_sha256)
            if skip is None:
                reasons.append(
                    Reason(
                        "missing_input",
                        f"{ref.country} envelope {ref.envelope_sha256} is not in {inputs}",
                    )
                )
            else:
                reasons.append(
                    Reason("input_invalid", f"{skip.file}: {skip.reason}: {skip.message}")
                )
            continue
        chosen.append(sel)
        summary = sel.summary
        _, _, verdict = reaudit(
            summary.tables, cb, summary.country, k=summary.protection.k, s=summary.protection.s
        )
        if not verdict.passed:
            reasons.append(
                Reason(
                    "protection_failed",
                    f"{sel.file}: {len(verdict.failing)} cells fail the interval attack",
                )
            )
    checked.append(f"{len(chosen)} input envelopes verified and re-audited")
    listed = {r.envelope_sha256 for r in report.inputs}
    for sel in current:
        if sel.digest not in listed:
            reasons.append(
                Reason(
                    "input_dropped",
                    f"{sel.file}: valid {sel.summary.country} "
                    f"revision {sel.summary.revision} is not in "
                    f"the report",
                )
            )
    if not reasons:
        replay = merge(
            chosen,
            period=report.period,
            report_id=report.report_id,
            created_at=report.created_at,
            codebook=cb,
            skipped=report.skipped,
        )
        rebuilt, files = build_report(replay, cb)
        if rebuilt.canonical_bytes() != report.canonical_bytes():
            reasons.append(
                Reason(
                    "replay_mismatch", "the merge of the inputs does not give the report's bytes"
                )
            )
        else:
            checked.append("merge replayed byte for byte")
        reasons += _artifacts(path.parent, report, files)
    return AuditVerdict(report, reasons, checked)


def _artifacts(folder: Path, report: RegionalReport, rendered: dict[str, bytes]) -> list[Reason]:
    out = []
    for name in ARTIFACTS:
        want = report.artifacts.get(name)
        f = folder / name
        if want is None or not f.exists():
            out.append(Reason("artifact_missing", f"{name}: not found beside the report"))
            continue
        got = "sha256:" + hashlib.sha256(f.read_bytes()).hexdigest()
        if got != want:
            out.append(
                Reason("artifact_mismatch", f"{name}: SHA-256 {got} differs from the signed {want}")
            )
        elif "sha256:" + hashlib.sha256(rendered[name]).hexdigest() != want:
            out.append(Reason("artifact_mismatch", f"{name}: does not re-render identically"))
    return out
