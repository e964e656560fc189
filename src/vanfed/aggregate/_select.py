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
from vanfed.aggregate._checks import Refusal, check_history, check_summary
from vanfed.anonymize._history import year_group
from vanfed.anonymize._order import node_order
from vanfed.errors import InputError, ReasonCode
from vanfed.schema import Codebook, InboxLayout, Skipped, Summary, TrustRegistry, load_codebook
from vanfed.signing import VerificationResult, envelope_digest, verification_result

__all__ = ["Selected", "select_inputs"]


@dataclass(frozen=True)
class Selected:
    summary: Summary
    digest: str
    file: str


def select_inputs(
    inbox: str | Path,
    registry: TrustRegistry,
    *,
    period: str,
    now: dt.datetime,
    logged: Mapping[str, int] | None = None,
    codebook: Codebook | None = None,
    received_at: Mapping[str, dt.datetime] | None = None,
) -> tuple[list[Selected], list[Skipped]]:
    """Verified current summaries for ``period`` and everything skipped, with reasons.

    With ``logged`` (envelope digest → log index, up to a checkpoint), only envelopes in
    the transparency log at that checkpoint count; others are skipped as ``not_logged``.
    Every verified summary then passes the door's checks (:mod:`vanfed.aggregate._checks`):
    one that fails them is skipped with its reason, so it cannot break the region.
    With ``received_at`` (envelope digest → time the log received it), each signer's key
    is judged valid or not at that time, so a later revocation or expiry does not undo it.
    """
    limit = registry.policy.max_envelope_bytes
    skipped: list[Skipped] = []
    verified: list[tuple[tuple[int, str, int], Selected]] = []
    seen: set[str] = set()
    for path in InboxLayout(inbox).files():
        try:
            data = read_limited(path, limit)
        except InputError as exc:
            skipped.append(Skipped(file=path.name, reason=ReasonCode.TOO_LARGE, message=str(exc)))
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
                    reason=ReasonCode.NOT_LOGGED,
                    message="not in the transparency log at the report's checkpoint",
                )
            )
            continue
        result: VerificationResult[Summary] = verification_result(
            data, registry, now=now, key_time=(received_at or {}).get(digest)
        )
        if not result.ok or result.payload is None:
            skipped.append(
                Skipped(
                    file=path.name,
                    envelope_sha256=digest,
                    reason=result.codes[0] if result.codes else ReasonCode.MALFORMED,
                    message="; ".join(r.message for r in result.reasons),
                )
            )
            continue
        summary = result.payload
        # History order: the log's, else the order the node made them in.
        order = (
            (logged[digest], "", 0)
            if logged is not None
            else (0, summary.created_at, summary.revision)
        )
        verified.append((order, Selected(summary, digest, path.name)))
    cb = codebook or load_codebook()
    sound = _sound(verified, registry, cb, period, skipped)
    candidates: dict[str, list[Selected]] = {}
    for sel in sound:
        if sel.summary.period != period:
            skipped.append(
                _skip(sel, ReasonCode.OTHER_PERIOD, f"summary is for {sel.summary.period}")
            )
        else:
            candidates.setdefault(sel.summary.country, []).append(sel)
    chosen: list[Selected] = []
    for country in sorted(candidates):
        pick = _current(candidates[country], sound, cb, skipped)
        if pick is not None:
            chosen.append(pick)
    skipped.sort(key=lambda s: (s.file, s.reason))
    return chosen, skipped


def _sound(
    verified: list[tuple[tuple[int, str, int], Selected]],
    registry: TrustRegistry,
    codebook: Codebook,
    period: str,
    skipped: list[Skipped],
) -> list[Selected]:
    """Verified summaries of ``period``'s year group that pass the door's own checks, in
    history order (the log's, else creation); the rest are skipped with their reasons."""
    out = []
    target = year_group(period)
    for _, sel in sorted(verified, key=lambda v: (v[0], v[1].digest)):
        if year_group(sel.summary.period) != target:  # another year: other records
            skipped.append(
                _skip(sel, ReasonCode.OTHER_PERIOD, f"summary is for {sel.summary.period}")
            )
            continue
        try:
            check_summary(sel.summary, codebook, registry.policy)
        except Refusal as exc:
            skipped.append(_skip(sel, exc.reason, exc.message))
            continue
        out.append(sel)
    return out


def _current(
    group: list[Selected], sound: list[Selected], codebook: Codebook, skipped: list[Skipped]
) -> Selected | None:
    """The country's current revision: the highest one, unless two claim it (a conflict:
    none counts), or it is unsafe beside what the country published before it (then the
    next highest)."""
    group = sorted(group, key=lambda s: (-s.summary.revision, s.digest))
    top = group[0].summary.revision
    best = [s for s in group if s.summary.revision == top]
    if len(best) > 1:
        n = len(best)
        for s in best:
            msg = f"{n} different summaries claim revision {top}"
            skipped.append(_skip(s, ReasonCode.CONFLICTING_REVISION, msg))
        for s in group[n:]:
            skipped.append(
                _skip(s, ReasonCode.SUPERSEDED, f"revision {s.summary.revision} < {top}")
            )
        return None
    pick = None
    for sel in group:
        if pick is not None:
            msg = f"revision {sel.summary.revision} < {pick.summary.revision}"
            skipped.append(_skip(sel, ReasonCode.SUPERSEDED, msg))
            continue
        mine = node_order(sel.summary.period, sel.summary.created_at, sel.summary.revision)
        earlier = [  # what the node had published when it made this one (its order)
            s.summary
            for s in sound
            if s.summary.country == sel.summary.country
            and node_order(s.summary.period, s.summary.created_at, s.summary.revision) < mine
        ]
        try:
            check_history(sel.summary, earlier, codebook)
            pick = sel
        except Refusal as exc:
            skipped.append(_skip(sel, exc.reason, exc.message))
    return pick


def _skip(sel: Selected, reason: str, message: str) -> Skipped:
    return Skipped(
        file=sel.file,
        envelope_sha256=sel.digest,
        country=sel.summary.country,
        reason=reason,
        message=message,
    )
