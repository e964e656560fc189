"""``vanfed.audit``: recompute a regional report from its signed inputs and compare bytes.

Checks, each failing with a stable reason code: the report's signature by a coordinator key
(``report_invalid``); every input present (``missing_input``) and valid (``input_invalid``);
the inbox holds no newer or extra valid input that the report left out (``input_dropped``);
the merge replays to the same canonical bytes (``replay_mismatch``); every input passes the
interval-attack audit again, or for a cell key method input follows the registry's agreed
noise with a ptable its parameters rebuild (``protection_failed``); every artifact matches
its digest and re-renders identically (``artifact_mismatch``, ``artifact_missing``).

When the report is bound to the transparency log: its checkpoint is signed by a log key in
the registry (``log_checkpoint_invalid``); the inbox's log reproduces that checkpoint
(``log_missing``, ``log_corrupt``, ``log_mismatch``); every logged envelope is present
(``log_entry_missing``); each input sits at its stated index (``log_index_mismatch``); only
logged envelopes count, so one left out is ``input_dropped``; and every node receipt given
is consistent with the report's log (``log_forked``, ``receipt_invalid``).

The report may not be bound to an older checkpoint than it should: a log entry, or a node
receipt, received before the report was made must be inside the report's checkpoint
(``stale_checkpoint``). The ``skipped`` list is rebuilt from the inputs, never trusted
(``skipped_mismatch``). Keys are judged at the time the log received each envelope, and the
registry the report names must be the one given or older than it (``registry_mismatch``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from vanfed._audit_checks import (
    rebuild_skipped,
    receipts_inside,
    registry_ref,
    stale_checkpoint,
    verified_report,
)
from vanfed._audit_secure import secure_checks
from vanfed._coordinator import (
    ARTIFACTS,
    LogView,
    bind_to_log,
    build_report,
    languages_of,
    logged_below,
    with_round,
)
from vanfed._json import loads_strict, read_limited
from vanfed.aggregate import Selected, merge, select_inputs
from vanfed.anonymize import build_ptable, reaudit
from vanfed.errors import LogError, ReasonCode, VanfedError, VerificationError
from vanfed.report import workbook_values
from vanfed.schema import (
    Codebook,
    InboxLayout,
    InputRef,
    RegionalReport,
    Skipped,
    TrustRegistry,
    ckm_violations,
    load_codebook,
)
from vanfed.signing import Envelope, Reason, require_aware
from vanfed.transport import (
    TransparencyLog,
    log_folder,
    log_keys,
    verified_checkpoint,
    verify_receipt,
)

__all__ = ["AuditVerdict", "audit"]


@dataclass(frozen=True)
class AuditVerdict:
    report: RegionalReport | None
    reasons: list[Reason] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return self.report is not None and not self.reasons


def audit(
    report_path: str | Path,
    *,
    inputs: str | Path,
    registry: TrustRegistry,
    now: dt.datetime,
    codebook: Codebook | None = None,
    receipts: str | Path | None = None,
) -> AuditVerdict:
    """Audit a signed regional report against the folder of input envelopes.

    Args:
        report_path: the signed regional report (``regional.dsse.json``).
        inputs: the folder of input envelopes (the coordinator's inbox).
        registry: the verified trust registry.
        now: an aware datetime (key validity).
        codebook: defaults to the shipped v1.
        receipts: a folder of node receipts (``*.dsse.json``) to hold the log to.

    Returns:
        The verdict: ``ok`` and, if not, each failure's reason code and message.

    Raises:
        InputError: a naive ``now``.
    """
    cb = codebook or load_codebook()
    path = Path(report_path)
    report, signer, failed = verified_report(path, registry, require_aware(now))
    if report is None:
        return AuditVerdict(None, failed)
    checked = [f"report signature by coordinator key {signer}"]
    reasons = registry_ref(report, registry, checked)
    view = None
    if report.log_checkpoint is not None:
        view, log_reasons = _log_view(report, Path(inputs), registry, checked)
        if view is None:
            return AuditVerdict(report, log_reasons, checked)
        reasons += log_reasons
        reasons += _time_checks(report, view, inputs, receipts, registry, now, checked)
    # One pass over the inbox verifies every envelope; the report's inputs must be exactly
    # the current valid ones (nothing missing, invalid, superseded or left out).
    current, skipped = select_inputs(
        inputs,
        registry,
        period=report.period,
        now=now,
        logged=view.logged if view else None,
        codebook=cb,
        received_at=view.received_at if view else None,
    )
    rebuilt_skipped, mismatch = rebuild_skipped(report, skipped, view)
    reasons += mismatch
    chosen, input_reasons = _inputs(report, current, skipped, view, inputs, cb, registry)
    reasons += input_reasons
    checked.append(f"{len(chosen)} input envelopes verified and re-audited")
    reasons += _dropped(report, current)
    reasons += secure_checks(report, Path(inputs), registry, view, cb, checked)
    if not reasons:
        replay = _Replay(Path(inputs), registry, view, cb)
        reasons += replay.check(report, chosen, rebuilt_skipped, path.parent, checked)
    return AuditVerdict(report, reasons, checked)


def _time_checks(
    report: RegionalReport,
    view: LogView,
    inputs: str | Path,
    receipts: str | Path | None,
    registry: TrustRegistry,
    now: dt.datetime,
    checked: list[str],
) -> list[Reason]:
    """The report's checkpoint is not older than it should be, and every node receipt given
    agrees with the log and is inside the checkpoint."""
    reasons = stale_checkpoint(report, view, checked)
    if receipts is not None:
        reasons += _receipts(Path(receipts), Path(inputs), view, registry, now, checked)
        reasons += receipts_inside(report, Path(receipts), view, registry, now)
    return reasons


def _inputs(
    report: RegionalReport,
    current: list[Selected],
    skipped: list[Skipped],
    view: LogView | None,
    inputs: str | Path,
    cb: Codebook,
    registry: TrustRegistry,
) -> tuple[list[Selected], list[Reason]]:
    """The report's inputs among the current valid ones, each at its log index and passing
    its protection audit again; and why any is missing or invalid."""
    valid = {sel.digest: sel for sel in current}
    unused = {s.envelope_sha256: s for s in skipped if s.envelope_sha256}
    chosen: list[Selected] = []
    reasons: list[Reason] = []
    for ref in report.inputs:
        sel = valid.get(ref.envelope_sha256)
        if sel is None:
            reasons.append(_absent(ref, unused.get(ref.envelope_sha256), inputs))
            continue
        chosen.append(sel)
        at = view.logged.get(ref.envelope_sha256) if view is not None else None
        if view is not None and ref.log_index != at:
            reasons.append(
                Reason(
                    ReasonCode.LOG_INDEX_MISMATCH,
                    f"{ref.country} envelope is at log index {at}, the report says {ref.log_index}",
                )
            )
        reasons += _reaudit(sel, cb, registry)
    return chosen, reasons


def _absent(ref: InputRef, skip: Skipped | None, inputs: str | Path) -> Reason:
    """Why an input the report names is not among the current valid ones."""
    if skip is None:
        return Reason(
            ReasonCode.MISSING_INPUT,
            f"{ref.country} envelope {ref.envelope_sha256} is not in {inputs}",
        )
    return Reason(ReasonCode.INPUT_INVALID, f"{skip.file}: {skip.reason}: {skip.message}")


def _dropped(report: RegionalReport, current: list[Selected]) -> list[Reason]:
    """Valid current inputs the report leaves out."""
    listed = {r.envelope_sha256 for r in report.inputs}
    return [
        Reason(
            ReasonCode.INPUT_DROPPED,
            f"{sel.file}: valid {sel.summary.country} "
            f"revision {sel.summary.revision} is not in the report",
        )
        for sel in current
        if sel.digest not in listed
    ]


@dataclass(frozen=True)
class _Replay:
    """Where the replay reads from: the inbox, its registry, its log, the codebook."""

    inputs: Path
    registry: TrustRegistry
    view: LogView | None
    cb: Codebook

    def check(
        self,
        report: RegionalReport,
        chosen: list[Selected],
        skipped: tuple[Skipped, ...],
        folder: Path,
        checked: list[str],
    ) -> list[Reason]:
        """Merge the inputs again (and take the same secure round by the same rule) and
        rebuild the report: its canonical bytes must be the signed ones, and its artifacts
        must match the files beside it."""
        replay = merge(
            chosen,
            period=report.period,
            report_id=report.report_id,
            created_at=report.created_at,
            codebook=self.cb,
            skipped=skipped,  # rebuilt, never the report's own claim
        )
        replay = replay.model_copy(update={"registry": report.registry})  # checked above
        replay = with_round(
            replay, self.inputs, self.registry, self.view, secure=report.secure is not None
        )
        rebuilt, files = build_report(
            bind_to_log(replay, self.view),
            self.cb,
            summaries=[sel.summary for sel in chosen],
            langs=languages_of(report.artifacts),
            printed={n: d for n, d in report.artifacts.items() if n.endswith(".pdf")},
        )
        # Artifact digests are held to the files and re-renders by _artifacts (a workbook by
        # content: its bytes depend on the openpyxl build); here the same names must be signed.
        same = rebuilt.model_copy(update={"artifacts": report.artifacts})
        reasons = []
        if set(rebuilt.artifacts) != set(report.artifacts) or (
            same.canonical_bytes() != report.canonical_bytes()
        ):
            reasons.append(
                Reason(
                    ReasonCode.REPLAY_MISMATCH,
                    "the merge of the inputs does not give the report's bytes",
                )
            )
        else:
            checked.append(
                "merge replayed byte for byte"
                + (" (with the secure round's post-processing)" if report.secure else "")
            )
        return reasons + _artifacts(folder, report, files)


def _reaudit(sel: Selected, cb: Codebook, registry: TrustRegistry) -> list[Reason]:
    """Suppression: the interval attack again. Cell key method: the registry's noise, a
    ptable rebuilt from its parameters with the agreed digest, nothing in 1 … js."""
    summary = sel.summary
    prot = summary.protection
    if prot.ckm is not None:
        values = tuple(v for t in summary.tables for v in t.values)
        why = ckm_violations(prot.ckm, registry.policy.ckm, values)
        if build_ptable(prot.ckm.params).digest != prot.ckm.ptable_digest:
            why.append("its ptable digest is not that of the ptable its parameters give")
        return [
            Reason(ReasonCode.PROTECTION_FAILED, f"{sel.file}: cell key method: {w}") for w in why
        ]
    _, _, verdict = reaudit(
        summary.tables, cb, summary.country, k=prot.k, s=prot.s, within=prot.total_within
    )
    if verdict.passed:
        return []
    return [
        Reason(
            ReasonCode.PROTECTION_FAILED,
            f"{sel.file}: {len(verdict.failing)} cells fail the interval attack",
        )
    ]


def _log_view(
    report: RegionalReport, inputs: Path, registry: TrustRegistry, checked: list[str]
) -> tuple[LogView | None, list[Reason]]:
    """The inbox's log, held to the report's signed checkpoint."""
    note = (report.log_checkpoint or "").encode()
    try:
        cp, _ = verified_checkpoint(note, log_keys(registry))
    except VerificationError as exc:
        return None, [Reason(ReasonCode.LOG_CHECKPOINT_INVALID, f"report checkpoint: {exc}")]
    folder = log_folder(inputs)
    try:
        log = TransparencyLog.read(folder, log_keys(registry))
    except LogError as exc:
        code = (
            ReasonCode.LOG_MISSING
            if ReasonCode.LOG_MISSING in exc.reasons
            else ReasonCode.LOG_CORRUPT
        )
        return None, [Reason(code, str(exc))]
    if log.tree.size < cp.size or log.tree.root(cp.size) != cp.root:
        return None, [
            Reason(
                ReasonCode.LOG_MISMATCH,
                f"{folder}: its first {cp.size} entries do not give the root the report's "
                "checkpoint signs",
            )
        ]
    view = LogView(note, cp.size, logged_below(log, cp.size), log)
    reasons = []
    for digest, index in sorted(view.logged.items(), key=lambda kv: kv[1]):
        if not InboxLayout(inputs).find(digest).is_file():
            reasons.append(
                Reason(
                    ReasonCode.LOG_ENTRY_MISSING,
                    f"log entry {index} ({digest[:19]}…) is not in {inputs}: "
                    "an accepted submission was withheld",
                )
            )
    checked.append(f"log checkpoint {cp.origin} size {cp.size} reproduced from the inbox's log")
    return view, reasons


def _receipts(
    folder: Path,
    inputs: Path,
    view: LogView,
    registry: TrustRegistry,
    now: dt.datetime,
    checked: list[str],
) -> list[Reason]:
    """Node receipts: each must verify, and its checkpoint must be a prefix of the log."""
    reasons = []
    files = sorted(folder.glob("*.dsse.json"))
    limit = registry.policy.max_envelope_bytes
    for f in files:
        receipt_bytes = read_limited(f, limit)
        try:
            payload = loads_strict(Envelope.from_bytes(receipt_bytes).payload)
            digest = str(payload["envelope_sha256"])
            envelope = read_limited(InboxLayout(inputs).find(digest), limit)
        except (VanfedError, KeyError, TypeError) as exc:
            reasons.append(
                Reason(ReasonCode.LOG_ENTRY_MISSING, f"{f.name}: receipted envelope: {exc}")
            )
            continue
        try:
            receipt, cp = verify_receipt(receipt_bytes, registry, envelope=envelope, now=now)
        except VerificationError as exc:
            reasons.append(Reason(ReasonCode.RECEIPT_INVALID, f"{f.name}: {exc}"))
            continue
        tree = view.log.tree
        if cp.size > tree.size or tree.root(cp.size) != cp.root:
            reasons.append(
                Reason(
                    ReasonCode.LOG_FORKED,
                    f"{f.name}: the coordinator signed a log of size {cp.size} that is not a "
                    "prefix of the log the report was built from",
                )
            )
        elif view.log.by_digest.get(receipt.envelope_sha256) != receipt.log.index:
            reasons.append(Reason(ReasonCode.LOG_FORKED, f"{f.name}: entry moved in the log"))
    checked.append(f"{len(files)} node receipts held to the log")
    return reasons


def _same_render(name: str, published: bytes, rendered: bytes) -> bool:
    """Byte for byte; a workbook by its sheets and cell values (the zip and XML bytes of an
    .xlsx depend on the openpyxl version and on whether lxml is installed)."""
    if published == rendered:
        return True
    return name.endswith(".xlsx") and workbook_values(published) == workbook_values(rendered)


def _artifacts(folder: Path, report: RegionalReport, rendered: dict[str, bytes]) -> list[Reason]:
    """Every artifact the report signs (and the required ones) matches its digest; all but
    the PDFs (a browser's print is not byte-reproducible) also re-render identically."""
    out = []
    for name in dict.fromkeys([*ARTIFACTS, *report.artifacts]):
        want = report.artifacts.get(name)
        if Path(name).name != name or name.startswith("."):
            out.append(
                Reason(ReasonCode.ARTIFACT_MISMATCH, f"{name!r}: not a file name beside the report")
            )
            continue
        f = folder / name
        if want is None or not f.exists():
            out.append(Reason(ReasonCode.ARTIFACT_MISSING, f"{name}: not found beside the report"))
            continue
        got = "sha256:" + hashlib.sha256(f.read_bytes()).hexdigest()
        if got != want:
            out.append(
                Reason(
                    ReasonCode.ARTIFACT_MISMATCH,
                    f"{name}: SHA-256 {got} differs from the signed {want}",
                )
            )
        elif name in rendered and not _same_render(name, f.read_bytes(), rendered[name]):
            out.append(
                Reason(ReasonCode.ARTIFACT_MISMATCH, f"{name}: does not re-render identically")
            )
    return out
