"""Choosing the inputs of a period: verify every envelope, keep the current revision.

For each (country, period) the highest valid revision wins; older ones are *superseded*;
two different envelopes with the same revision are a *conflict* and neither is used. Every
envelope that is not used is listed with a machine-readable reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from vanfed._json import read_limited
from vanfed.errors import InputError
from vanfed.schema import Skipped, Summary, TrustRegistry
from vanfed.signing import VerificationResult, envelope_digest, verification_result

__all__ = ["Selected", "select_inputs"]


@dataclass(frozen=True)
class Selected:
    summary: Summary
    digest: str
    file: str


def _envelopes(inbox: Path) -> list[Path]:
    if not inbox.is_dir():
        raise InputError(f"{inbox}: inbox is not a folder")
    return sorted(p for p in inbox.iterdir() if p.is_file() and not p.name.startswith("."))


def select_inputs(
    inbox: str | Path,
    registry: TrustRegistry,
    *,
    period: str,
    now: dt.datetime,
    logged: Mapping[str, int] | None = None,
) -> tuple[list[Selected], list[Skipped]]:
    """Verified current summaries for ``period`` and everything skipped, with reasons.

    With ``logged`` (envelope digest → log index, up to a checkpoint), only envelopes in
    the transparency log at that checkpoint count; others are skipped as ``not_logged``.
    """
    limit = registry.policy.max_envelope_bytes
    candidates: dict[str, list[Selected]] = {}
    skipped: list[Skipped] = []
    seen: set[str] = set()
    for path in _envelopes(Path(inbox)):
        try:
            data = read_limited(path, limit)
        except InputError as exc:
            skipped.append(Skipped(file=path.name, reason="too_large", message=str(exc)))
            continue
        digest = envelope_digest(data)
        if digest in seen:
            continue  # the same envelope twice is one submission
        seen.add(digest)
        if logged is not None and digest not in logged:
            skipped.append(
                Skipped(
                    file=path.name,
                    envelope_sha256=digest,
                    reason="not_logged",
                    message="not in the transparency log at the report's checkpoint",
                )
            )
            continue
        result: VerificationResult[Summary] = verification_result(data, registry, now=now)
        if not result.ok or result.payload is None:
            skipped.append(
                Skipped(
                    file=path.name,
                    envelope_sha256=digest,
                    reason=result.codes[0] if result.codes else "malformed",
                    message="; ".join(r.message for r in result.reasons),
                )
            )
            continue
        summary = result.payload
        if summary.period != period:
            skipped.append(
                Skipped(
                    file=path.name,
                    envelope_sha256=digest,
                    country=summary.country,
                    reason="other_period",
                    message=f"summary is for {summary.period}",
                )
            )
            continue
        candidates.setdefault(summary.country, []).append(Selected(summary, digest, path.name))
    chosen: list[Selected] = []
    for country in sorted(candidates):
        group = sorted(candidates[country], key=lambda s: (-s.summary.revision, s.digest))
        top = group[0].summary.revision
        best = [s for s in group if s.summary.revision == top]
        if len(best) > 1:
            for s in best:
                skipped.append(
                    Skipped(
                        file=s.file,
                        envelope_sha256=s.digest,
                        country=country,
                        reason="conflicting_revision",
                        message=f"{len(best)} different summaries claim revision {top}",
                    )
                )
        else:
            chosen.append(best[0])
        for s in group[len(best) :]:
            skipped.append(
                Skipped(
                    file=s.file,
                    envelope_sha256=s.digest,
                    country=country,
                    reason="superseded",
                    message=f"revision {s.summary.revision} < {top}",
                )
            )
    skipped.sort(key=lambda s: (s.file, s.reason))
    return chosen, skipped
