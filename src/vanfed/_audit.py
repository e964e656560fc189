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
from vanfed.errors import InputError
from vanfed.schema import (
    REPORT_TYPE,
    Codebook,
    RegionalReport,
    Summary,
    TrustRegistry,
    load_codebook,
)
from vanfed.signing import Reason, VerificationResult, envelope_digest, verification_result

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
    by_digest = _index(Path(inputs), registry)
    chosen: list[Selected] = []
    for ref in report.inputs:
        item = by_digest.get(ref.envelope_sha256)
        if item is None:
            reasons.append(
                Reason(
                    "missing_input",
                    f"{ref.country} envelope {ref.envelope_sha256} is not in {inputs}",
                )
            )
            continue
        name, blob = item
        vr: VerificationResult[Summary] = verification_result(blob, registry, now=now)
        if not vr.ok or vr.payload is None:
            reasons.append(
                Reason(
                    "input_invalid",
                    f"{name}: " + "; ".join(f"{r.code}: {r.message}" for r in vr.reasons),
                )
            )
            continue
        chosen.append(Selected(vr.payload, ref.envelope_sha256, name))
        _, _, verdict = reaudit(
            vr.payload.tables,
            cb,
            vr.payload.country,
            k=vr.payload.protection.k,
            s=vr.payload.protection.s,
        )
        if not verdict.passed:
            reasons.append(
                Reason(
                    "protection_failed",
                    f"{name}: {len(verdict.failing)} cells fail the interval attack",
                )
            )
    checked.append(f"{len(chosen)} input envelopes verified and re-audited")
    current, _skipped = select_inputs(inputs, registry, period=report.period, now=now)
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


def _index(folder: Path, registry: TrustRegistry) -> dict[str, tuple[str, bytes]]:
    if not folder.is_dir():
        raise InputError(f"{folder}: inputs folder does not exist")
    out: dict[str, tuple[str, bytes]] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file():
            try:
                blob = read_limited(p, registry.policy.max_envelope_bytes)
            except InputError:
                continue
            out.setdefault(envelope_digest(blob), (p.name, blob))
    return out


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
