"""Checks of ``vanfed audit`` that bound a report in time and trust (#13), kept apart from
the replay in :mod:`vanfed._audit`: the report's signature, the registry it names, the
checkpoint it is bound to (not older than its time allows) and its ``skipped`` list (rebuilt,
never trusted)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from vanfed._coordinator import LogView, report_skipped
from vanfed._json import read_limited
from vanfed.errors import ReasonCode, VanfedError, VerificationError
from vanfed.schema import Receipt, RegionalReport, Skipped, TrustRegistry
from vanfed.signing import (
    RECEIPT_PROFILE,
    REPORT_PROFILE,
    Reason,
    timestamp,
    verification_result,
)

__all__ = [
    "rebuild_skipped",
    "receipts_inside",
    "registry_ref",
    "skipped_mismatch",
    "stale_checkpoint",
    "verified_receipt_payload",
    "verified_report",
]


def verified_report(
    path: Path, registry: TrustRegistry, now: dt.datetime
) -> tuple[RegionalReport | None, str | None, list[Reason]]:
    """The report whose coordinator signature verifies, its signer, or why not."""
    data = read_limited(path, registry.policy.max_envelope_bytes * 16)
    res = verification_result(data, registry, now=now, profile=REPORT_PROFILE)
    if not res.ok or res.payload is None:
        return (
            None,
            None,
            [
                Reason(ReasonCode.REPORT_INVALID, f"{path.name}: {r.code}: {r.message}")
                for r in res.reasons
            ],
        )
    return res.payload, res.signer, []


def verified_receipt_payload(path: Path, registry: TrustRegistry, now: dt.datetime) -> Receipt:
    """A receipt whose coordinator signature verifies (its envelope is not needed).

    Raises:
        VerificationError: the receipt does not verify (with reason codes).
    """
    data = read_limited(path, registry.policy.max_envelope_bytes)
    res = verification_result(data, registry, now=now, profile=RECEIPT_PROFILE)
    if not res.ok or res.payload is None:
        raise VerificationError(
            f"{path.name}: " + "; ".join(r.message for r in res.reasons), res.codes
        )
    return res.payload


def registry_ref(
    report: RegionalReport, registry: TrustRegistry, checked: list[str]
) -> list[Reason]:
    """The report's registry must be the auditor's, or an older version of it (keys are
    judged at receipt time, so a newer registry's later revocations do not matter)."""
    ref = report.registry
    if ref is None:
        return []
    if ref.version > registry.version:
        return [
            Reason(
                ReasonCode.REGISTRY_MISMATCH,
                f"the report was built under registry v{ref.version}; audit with it "
                f"(you gave v{registry.version})",
            )
        ]
    if ref.version == registry.version and ref.digest != registry.digest:
        return [
            Reason(
                ReasonCode.REGISTRY_MISMATCH,
                f"the report names registry v{ref.version} {ref.digest[:19]}…, "
                f"not the v{registry.version} given ({registry.digest[:19]}…)",
            )
        ]
    checked.append(f"report built under registry v{ref.version} (audited with v{registry.version})")
    return []


def stale_checkpoint(report: RegionalReport, view: LogView, checked: list[str]) -> list[Reason]:
    """Entries the log received before the report was made must be inside its checkpoint:
    a report bound to an older checkpoint silently drops newer submissions."""
    late = [
        e
        for e in view.log.entries[view.size :]
        if timestamp(dt.datetime.fromtimestamp(e.received_at, dt.UTC)) < report.created_at
    ]
    if not late:
        checked.append("no log entry received before the report lies outside its checkpoint")
        return []
    return [
        Reason(
            ReasonCode.STALE_CHECKPOINT,
            f"{len(late)} log entries received before the report ({report.created_at}) are "
            f"outside its checkpoint of size {view.size}, from entry {late[0].index} "
            f"({late[0].digest[:19]}…): the report is bound to an older checkpoint",
        )
    ]


def receipts_inside(
    report: RegionalReport, folder: Path, view: LogView, registry: TrustRegistry, now: dt.datetime
) -> list[Reason]:
    """Every receipt issued before the report must name an entry inside its checkpoint."""
    out = []
    for f in sorted(folder.glob("*.dsse.json")):
        try:
            receipt = verified_receipt_payload(f, registry, now)
        except VanfedError:
            continue  # reported by _receipts
        if receipt.received_at < report.created_at and receipt.log.index >= view.size:
            out.append(
                Reason(
                    ReasonCode.STALE_CHECKPOINT,
                    f"{f.name}: {receipt.country} revision {receipt.revision} was receipted at "
                    f"{receipt.received_at}, before the report ({report.created_at}), as log "
                    f"entry {receipt.log.index}; the report's checkpoint holds {view.size}",
                )
            )
    return out


def rebuild_skipped(
    report: RegionalReport, skipped: list[Skipped], view: LogView | None
) -> tuple[tuple[Skipped, ...], list[Reason]]:
    """The ``skipped`` list to replay the report with, rebuilt from the inputs, and where
    the report's own list differs. Without a log, each entry the report claims is reproduced
    and the report's list is replayed (the folder may have grown since)."""
    rebuilt = report_skipped(skipped, view)
    reasons = skipped_mismatch(report, rebuilt, exact=view is not None)
    return (rebuilt if view is not None else report.skipped), reasons


def skipped_mismatch(
    report: RegionalReport, rebuilt: tuple[Skipped, ...], *, exact: bool
) -> list[Reason]:
    """Every entry of the report's ``skipped`` list must be reproduced from the inputs; with
    ``exact`` (a log-bound report: the log fixes the set of inputs) nothing may be missing
    from it either. Without a log, files added to the folder since cannot be told apart."""
    want = {(s.envelope_sha256, s.country, s.reason) for s in rebuilt}
    out = [
        Reason(
            ReasonCode.SKIPPED_MISMATCH,
            f"the report says {s.country or s.file} was skipped ({s.reason}); "
            "the inputs do not give that",
        )
        for s in report.skipped
        if (s.envelope_sha256, s.country, s.reason) not in want
    ]
    if exact:
        have = {(s.envelope_sha256, s.country, s.reason) for s in report.skipped}
        out += [
            Reason(
                ReasonCode.SKIPPED_MISMATCH,
                f"{s.file}: skipped ({s.reason}: {s.message}) but not listed in the report",
            )
            for s in rebuilt
            if (s.envelope_sha256, s.country, s.reason) not in have
        ]
    return out
