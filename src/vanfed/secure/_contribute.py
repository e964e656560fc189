"""A node's contribution to a round: true counts + its noise share + pairwise masks.

Before anything leaves the node, it checks (each refusal names the rule and what to do):

1. the announcement is signed by the registry's coordinator key and may run under the
   registry (:func:`vanfed.secure.announcement_problems`: the policy's least noise, the
   participants' agreement keys, regional tables of the codebook); the node is a
   participant with its own agreement key, and the deadline has not passed;
2. the announcement names this node's latest national summary of the period, and the
   records at hand reproduce it (every published cell, or, for the cell key method, the true
   counts the node kept): the region row then comes from the same records as the country
   row, and the national bounds the post-processing uses hold;
3. the round fits the node's privacy budget (:class:`vanfed.secure.PrivacyLedger`);
4. it has not contributed to this round already — if it has, it sends the same envelope
   again, never a second noise draw.

The vector of each table is ``counts + Skellam(variance_c / (n - collusion)) + Σ ±masks``
modulo 2**32 (:mod:`vanfed.secure._noise`, :mod:`vanfed.secure._masks`). The round is
charged in the privacy ledger before the envelope is returned.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence

import numpy as np

from vanfed._ledger import Entry, Ledger
from vanfed.anonymize import AxisSpec, TableSpec, build_cube, published_cubes
from vanfed.anonymize._ckm_revisions import CKM_CELLS_FOLDER, CkmCells
from vanfed.anonymize._tables import select_period
from vanfed.errors import InputError, ProtectionError, ReasonCode, VerificationError
from vanfed.ingest import CodedRecords
from vanfed.schema import (
    CONTRIBUTION_TYPE,
    MODULUS,
    Codebook,
    Contribution,
    MaskedTable,
    RoundAnnouncement,
    RoundTable,
    TrustRegistry,
)
from vanfed.secure._budget import SECURE_FOLDER, PrivacyLedger
from vanfed.secure._masks import mask_sum
from vanfed.secure._noise import RandBelow, cell_variances, skellam
from vanfed.secure._round import announcement_problems
from vanfed.signing import (
    ANNOUNCEMENT_PROFILE,
    EncryptionKeyPair,
    Signer,
    envelope_digest,
    sign_envelope,
    timestamp,
    verify,
)

__all__ = ["charge_from_log", "contribute", "round_counts"]


def _refuse(message: str, reason: str) -> ProtectionError:
    return ProtectionError(message, reason=reason)


def verified_announcement(
    data: bytes, registry: TrustRegistry, codebook: Codebook, now: dt.datetime
) -> RoundAnnouncement:
    """The announcement, verified against the registry and its policy.

    Raises:
        VerificationError: not signed by the registry's coordinator key.
        ProtectionError: the round may not run (the reason code says which rule).
    """
    ann = verify(data, registry, now=now, profile=ANNOUNCEMENT_PROFILE)
    problems = announcement_problems(ann, registry, codebook, now)
    if problems:
        code, message = problems[0]
        raise _refuse(f"round {ann.round_id[:12]}…: {message}", code)
    return ann


def round_counts(
    records: CodedRecords, tables: Sequence[RoundTable], codebook: Codebook, period: str
) -> dict[str, np.ndarray]:
    """The true counts of each round table for the period (flat, margins included).

    Raises:
        InputError: the codebook gives a table other codes than the round announced.
    """
    mask = select_period(records, period, allow_empty=True)
    out = {}
    for t in tables:
        spec = TableSpec(
            name=t.name,
            title=t.title,
            hxl=t.hxl,
            filter=t.filter,
            axes=tuple(AxisSpec(dim=a.dim, level=a.level) for a in t.axes),
        )
        cube = build_cube(records, spec, codebook, mask)
        if cube.codes != tuple(a.codes for a in t.axes):
            raise InputError(f"round table {t.name}: this codebook's codes differ from the round's")
        out[t.name] = cube.values.ravel()
    return out


def _check_same_records(
    entry: Entry, records: CodedRecords, codebook: Codebook, ledger: Ledger
) -> None:
    """The records reproduce the national summary the round names (see the module)."""
    summary = entry.summary
    label = f"{summary.country} {summary.period} r{summary.revision}"
    if summary.protection.perturbed:
        kept = CkmCells(ledger.folder / CKM_CELLS_FOLDER).load(summary)
        if kept is None:
            raise _refuse(
                f"{label}: its true counts are not kept in this ledger, so the records cannot "
                "be matched to it; summarize the period again with this ledger",
                ReasonCode.RECORDS_CHANGED,
            )
        truth = {s.name: np.asarray(s.counts) for s in kept.tables}
        published = {t.name: tuple(truth[t.name].tolist()) for t in summary.tables}
    else:
        published = {t.name: t.values for t in summary.tables}
    cubes = published_cubes(summary.tables, codebook, summary.country)
    mask = select_period(records, summary.period, allow_empty=True)
    for cube in cubes:
        now = build_cube(records, cube.spec, codebook, mask).values.ravel()
        for i, v in enumerate(published[cube.spec.name]):
            if v is not None and int(now[i]) != v:
                raise _refuse(
                    f"{label}: the records no longer give its table {cube.spec.name} "
                    f"(a cell published as {v} now counts {int(now[i])}); publish the new "
                    "records as a national revision first, then contribute to a round that "
                    "names it",
                    ReasonCode.RECORDS_CHANGED,
                )


def contribute(
    announcement: bytes,
    *,
    registry: TrustRegistry,
    codebook: Codebook,
    records: CodedRecords,
    signer: Signer,
    agreement: EncryptionKeyPair,
    ledger: Ledger,
    now: dt.datetime,
    rand: RandBelow = secrets.randbelow,
) -> bytes:
    """The signed contribution of this node to a round (see the module for every check).

    Args:
        announcement: the round's announcement envelope, as received.
        records: the node's coded records (the period is the round's).
        signer: the node's signing key (role ``node``).
        agreement: the node's agreement key (role ``agreement``, X25519).
        ledger: the node's publication ledger; the privacy ledger lives inside it.
        rand: uniform integers for the noise (default: the OS's CSPRNG).

    Raises:
        VerificationError: the announcement is not the coordinator's.
        ProtectionError: a rule refuses the round (reason code and what to do).
        InputError: the records or keys do not fit.
    """
    ann = verified_announcement(announcement, registry, codebook, now)
    country = records.country
    label = f"round {ann.round_id[:12]}… ({ann.period})"
    member = ann.participant(country)
    if member is None:
        raise _refuse(f"{label}: {country} is not a participant", ReasonCode.NOT_PARTICIPANT)
    if member.agreement_keyid != agreement.keyid:
        raise InputError(
            f"{label}: the round expects {country}'s agreement key "
            f"{member.agreement_keyid[:12]}…, this is {agreement.keyid[:12]}…"
        )
    privacy = PrivacyLedger(ledger.folder / SECURE_FOLDER)
    with privacy.locked():  # checked against the budget and charged in one step
        again = privacy.contribution(ann.round_id)
        if again is not None:
            return again
        if privacy.charged(ann.round_id):  # rebuilt from the log, or cut short: no 2nd draw
            raise _refuse(
                f"{label}: this round is charged in {country}'s privacy ledger without the "
                "contribution that went with it (rebuilt from the coordinator's log, or cut "
                "short); a second noise draw would average the first down: not contributed "
                "again (ask for a new round)",
                ReasonCode.CONFLICTING_CONTRIBUTION,
            )
        if timestamp(now) > ann.deadline:
            raise _refuse(f"{label}: the deadline was {ann.deadline}", ReasonCode.AFTER_DEADLINE)
        latest = ledger.latest(country, ann.period)
        if latest is None or latest.digest != member.summary:
            have = f"r{latest.summary.revision} ({latest.digest[:19]}…)" if latest else "nothing"
            raise _refuse(
                f"{label}: the round names {country} r{member.revision} "
                f"({member.summary[:19]}…), this ledger's latest is {have}; send the "
                "coordinator your latest summary and wait for a round that names it",
                ReasonCode.ANNOUNCEMENT_MISMATCH,
            )
        _check_same_records(latest, records, codebook, ledger)
        _check_budget(privacy, ann, registry, label, country)
        envelope = _masked(
            ann, envelope_digest(announcement), records, codebook, agreement, registry,
            signer, member.summary, now, rand,
        )  # fmt: skip
        privacy.keep(announcement, envelope)
    return envelope


def charge_from_log(
    announcements: Sequence[bytes],
    *,
    registry: TrustRegistry,
    country: str,
    ledger: Ledger,
    now: dt.datetime,
) -> int:
    """Charge a rebuilt privacy ledger with the rounds the coordinator's log says this
    country contributed to; how many were new here.

    Each announcement must be signed by the registry's coordinator key and name the
    country. A coordinator can only leave rounds out (the budget is then a lower bound:
    keep the ledger backed up) or add rounds (which spends budget, never privacy).

    Raises:
        VerificationError: an announcement is not the coordinator's.
        InputError: an announcement does not name ``country``.
    """
    privacy = PrivacyLedger(ledger.folder / SECURE_FOLDER)
    new = 0
    with privacy.locked():
        for data in announcements:
            ann = verify(data, registry, now=now, profile=ANNOUNCEMENT_PROFILE)
            if ann.participant(country) is None:
                raise InputError(f"round {ann.round_id[:12]}…: {country} is not a participant")
            new += privacy.remember(data)
    return new


def _check_budget(
    privacy: PrivacyLedger,
    ann: RoundAnnouncement,
    registry: TrustRegistry,
    label: str,
    country: str,
) -> None:
    """The round fits the registry's budget for the year group of its period (ε and the
    number of rounds that may sum a record)."""
    secure = registry.policy.secure
    assert secure is not None  # announcement_problems refuses a registry without it
    total = privacy.spent(ann.period, secure.delta, extra=ann)
    year = ann.period[:4]
    if total.rounds > secure.max_rounds:
        raise _refuse(
            f"{label}: {country}'s {year} records were already summed in "
            f"{total.rounds - 1} rounds; the registry allows {secure.max_rounds} per year "
            f"group: no more rounds for {year}",
            ReasonCode.BUDGET_EXHAUSTED,
        )
    if total.epsilon > secure.epsilon_budget:
        raise _refuse(
            f"{label}: with this round {country}'s {year} records would have spent "
            f"ε = {total.epsilon:.1f} (δ = {secure.delta:g}); the registry's budget is "
            f"{secure.epsilon_budget:g} per year group: no more rounds for {year}",
            ReasonCode.BUDGET_EXHAUSTED,
        )


def _masked(
    ann: RoundAnnouncement,
    digest: str,
    records: CodedRecords,
    codebook: Codebook,
    agreement: EncryptionKeyPair,
    registry: TrustRegistry,
    signer: Signer,
    summary: str,
    now: dt.datetime,
    rand: RandBelow,
) -> bytes:
    """Counts + noise share + masks, modulo 2**32, signed."""
    counts = round_counts(records, ann.tables, codebook, ann.period)
    peers = {}
    for p in ann.participants:
        key = registry.key(p.agreement_keyid)
        if key is None:
            raise VerificationError(f"{p.country}: agreement key not in the registry")
        peers[p.agreement_keyid] = key.raw
    masks = mask_sum(
        agreement,
        peers,
        announcement=digest,
        round_id=ann.round_id,
        tables=[(t.name, t.cells) for t in ann.tables],
    )
    honest = len(ann.participants) - ann.noise.collusion
    tables = []
    for t in ann.tables:
        share = cell_variances(t, ann.noise).ravel() / honest
        noisy = counts[t.name] + skellam(share, rand)
        masked = (noisy.astype(np.int64) % MODULUS).astype(np.uint64)
        values = (masked + masks[t.name]) % MODULUS
        tables.append(MaskedTable(name=t.name, values=tuple(int(v) for v in values)))
    contribution = Contribution(
        round_id=ann.round_id,
        announcement=digest,
        country=records.country,
        period=ann.period,
        summary=summary,
        codebook=ann.codebook,
        created_at=timestamp(now),
        tables=tuple(tables),
    )
    return sign_envelope(contribution.canonical_bytes(), CONTRIBUTION_TYPE, [signer]).to_bytes()
