"""A round at the coordinator: open it, take contributions, close it — and the checks.

Everything here works on verified, parsed models; the door (:class:`vanfed.transport.Inbox`)
verifies envelopes, calls these checks, logs what passes, and keeps a :class:`RoundBook` of
every round in its log. The same checks run in ``vanfed audit``, so a round that slipped
past an older door is caught there.

A round is *open* from its announcement until its result; a contribution is taken when it
names the round's announcement, comes from a participant that has not contributed, carries
one table per announced table with one value per cell, matches the national summary the
announcement names, and arrives by the deadline. The round completes by itself when the last
participant contributes (:meth:`Round.result` sums the vectors modulo 2**32). A missing
participant's masks never cancel, so a round it missed is *aborted* — after its deadline,
or earlier on the coordinator's word — and re-run with the rest under a new id.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from random import Random

import numpy as np

from vanfed.aggregate import Refusal
from vanfed.anonymize import TableSpec
from vanfed.anonymize._cube import axis_codes
from vanfed.errors import InputError, ReasonCode
from vanfed.schema import (
    ANNOUNCEMENT_TYPE,
    MODULUS,
    Codebook,
    CodebookRef,
    Contribution,
    ContributionRef,
    NoiseSpec,
    NoisySum,
    Participant,
    PublishedAxis,
    RegistryRef,
    RoundAnnouncement,
    RoundResult,
    RoundTable,
    TrustRegistry,
)
from vanfed.secure._noise import cell_variances, draws
from vanfed.signing import Signer, key_valid_at, sign_envelope, timestamp

__all__ = [
    "MAX_DRAWS",
    "NATIONAL_ONLY",
    "Round",
    "RoundBook",
    "announcement_problems",
    "open_round",
    "regional_tables",
    "signed_sums",
]

NATIONAL_ONLY = ("admin1",)  # regional tables take national-only axes at their total
MAX_DRAWS = 2_000_000  # Poisson(≤ 1/2) draws a node makes for one round: bounds its work


def regional_tables(specs: Sequence[TableSpec], codebook: Codebook) -> tuple[RoundTable, ...]:
    """The regional layout of national table specs: national-only axes dropped, every code
    of the rest from the codebook (``_T`` last). A spec with no axis left is dropped."""
    out = []
    for spec in specs:
        axes = []
        for a in spec.axes:
            if a.dim in NATIONAL_ONLY:
                continue
            codes, _ = axis_codes(codebook.dimension(a.dim), a.level)
            axes.append(PublishedAxis(dim=a.dim, level=a.level, codes=codes))
        if axes:
            out.append(
                RoundTable(
                    name=spec.name,
                    title=spec.title,
                    hxl=spec.hxl,
                    filter=spec.filter,
                    axes=tuple(axes),
                )
            )
    return tuple(out)


def _noise_problems(noise: NoiseSpec, least: NoiseSpec) -> list[str]:
    out = []
    if noise.variance < least.variance:
        out.append(f"variance {noise.variance:g} is below the policy's {least.variance:g}")
    if noise.margin_factor < least.margin_factor:
        out.append(
            f"margin factor {noise.margin_factor} is below the policy's {least.margin_factor}"
        )
    if noise.collusion < least.collusion:
        out.append(f"collusion {noise.collusion} is below the policy's {least.collusion}")
    if noise.delta > least.delta:
        out.append(f"delta {noise.delta:g} is above the policy's {least.delta:g}")
    return out


def announcement_problems(
    ann: RoundAnnouncement,
    registry: TrustRegistry,
    codebook: Codebook,
    now: dt.datetime,
    *,
    under: RegistryRef | None = None,
) -> list[tuple[str, str]]:
    """Why an announcement may not run under ``registry`` (empty: it may), as
    (reason code, message) pairs. The door checks it before logging it, each node before
    contributing, the auditor afterwards (``under``: the registry version the round must
    name, if not ``registry`` itself — a report's, audited with a newer registry)."""
    policy = registry.policy
    secure = policy.secure
    if secure is None:
        return [(ReasonCode.SECURE_NOT_ALLOWED, "the registry's policy has no secure section")]
    out: list[tuple[str, str]] = []
    if ann.registry != (under or registry.ref):
        out.append(
            (
                ReasonCode.REGISTRY_MISMATCH,
                f"announced under registry v{ann.registry.version}, "
                f"this is v{registry.version} ({registry.digest[:19]}…)",
            )
        )
    if ann.codebook.digest != codebook.digest:
        out.append((ReasonCode.CODEBOOK_MISMATCH, f"codebook {ann.codebook.digest[:19]}…"))
    out += [(ReasonCode.NOISE_BELOW_POLICY, why) for why in _noise_problems(ann.noise, secure)]
    if len(ann.participants) < secure.min_participants:
        out.append(
            (
                ReasonCode.POLICY_VIOLATION,
                f"{len(ann.participants)} participants; the policy needs {secure.min_participants}",
            )
        )
    for p in ann.participants:
        key = registry.agreement_key(p.country)
        if key is None or key.keyid != p.agreement_keyid:
            out.append(
                (
                    ReasonCode.UNKNOWN_KEY,
                    f"{p.country}: agreement key {p.agreement_keyid[:12]}… is not the registry's",
                )
            )
        elif why := key_valid_at(key, now):
            out.append((why[0].code, f"{p.country}: {why[0].message}"))
    out += _table_problems(ann, codebook, policy.max_tables, policy.max_cells_per_table)
    return out


def _table_problems(
    ann: RoundAnnouncement, codebook: Codebook, max_tables: int, max_cells: int
) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if len(ann.tables) > max_tables:
        out.append((ReasonCode.TOO_MANY_TABLES, f"{len(ann.tables)} tables, over {max_tables}"))
    work = 0
    for t in ann.tables:
        if t.cells > max_cells:
            out.append(
                (ReasonCode.TABLE_TOO_LARGE, f"table {t.name}: {t.cells} cells, over {max_cells}")
            )
            continue
        for a in t.axes:
            try:
                codes, _ = axis_codes(codebook.dimension(a.dim), a.level)
            except (InputError, KeyError, ValueError):
                codes = ()
            if a.dim in NATIONAL_ONLY or codes != a.codes:
                out.append(
                    (ReasonCode.UNKNOWN_CODE, f"table {t.name}: axis {a.dim} is not regional")
                )
        for dim, code in t.filter.items():
            try:
                known = dim not in NATIONAL_ONLY and codebook.dimension(dim).code(code)
            except (InputError, KeyError, ValueError):
                known = False
            if not known:
                out.append(
                    (
                        ReasonCode.UNKNOWN_CODE,
                        f"table {t.name}: filter {dim} = {code!r} is not regional",
                    )
                )
        work += draws(cell_variances(t, ann.noise).ravel() / (len(ann.participants)))
    if work > MAX_DRAWS:
        out.append((ReasonCode.POLICY_VIOLATION, f"the noise would take {work:,} draws a node"))
    return out


def open_round(
    registry: TrustRegistry,
    signer: Signer,
    *,
    period: str,
    participants: Sequence[tuple[str, str, int]],
    tables: Sequence[RoundTable],
    codebook: Codebook,
    now: dt.datetime,
    deadline: dt.datetime,
    noise: NoiseSpec | None = None,
    rng: Random | None = None,
) -> bytes:
    """The signed announcement of a new round.

    Args:
        participants: (country, national summary envelope digest, its revision) of each
            country whose counts the round sums.
        tables: the regional tables (:func:`regional_tables`).
        noise: default: the registry policy's least noise.
        rng: source of the round id (default: the OS's).

    Raises:
        InputError: the registry allows no secure round, a country has no agreement key,
            or the round breaks the policy (the message says which rule).
    """
    if registry.policy.secure is None:
        raise InputError("registry: its policy has no secure section; no round can run")
    members = []
    for country, summary, revision in sorted(participants):
        key = registry.agreement_key(country)
        if key is None:
            raise InputError(
                f"{country}: no agreement key in registry v{registry.version}; the node "
                "needs `vanfed keygen --role agreement --country " + country + "` registered"
            )
        members.append(
            Participant(
                country=country, agreement_keyid=key.keyid, summary=summary, revision=revision
            )
        )
    ann = RoundAnnouncement(
        round_id=f"{rng.getrandbits(128):032x}" if rng else secrets.token_hex(16),
        period=period,
        created_at=timestamp(now),
        deadline=timestamp(deadline),
        registry=registry.ref,
        codebook=CodebookRef(id=codebook.id, version=codebook.version, digest=codebook.digest),
        tables=tuple(tables),
        participants=tuple(members),
        noise=noise or registry.policy.secure.noise,
    )
    problems = announcement_problems(ann, registry, codebook, now)
    if problems:
        raise InputError("round: " + "; ".join(msg for _, msg in problems))
    return sign_envelope(ann.canonical_bytes(), ANNOUNCEMENT_TYPE, [signer]).to_bytes()


def signed_sums(
    announcement: RoundAnnouncement, contributions: Sequence[Contribution]
) -> tuple[NoisySum, ...]:
    """Each table's sum of the masked vectors modulo 2**32, read as a signed 32-bit value:
    the regional count plus the noise (the masks cancel)."""
    out = []
    for t in announcement.tables:
        total = np.zeros(t.cells, np.uint64)
        for c in contributions:
            vec = next(m.values for m in c.tables if m.name == t.name)
            total = (total + np.array(vec, np.uint64)) % MODULUS
        signed = np.where(total >= MODULUS // 2, total.astype(np.int64) - MODULUS, total)
        out.append(NoisySum(name=t.name, values=tuple(int(v) for v in signed)))
    return tuple(out)


@dataclass
class Round:
    """One round as the log holds it: its announcement, contributions so far, result."""

    announcement: RoundAnnouncement
    digest: str  # of the announcement envelope
    log_index: int | None = None
    contributions: dict[str, tuple[str, Contribution, int | None]] = field(default_factory=dict)
    result: RoundResult | None = None
    result_digest: str | None = None
    result_index: int | None = None

    @property
    def missing(self) -> tuple[str, ...]:
        """Participants that have not contributed, by country."""
        return tuple(
            p.country for p in self.announcement.participants if p.country not in self.contributions
        )

    def refusal(self, c: Contribution, digest: str, now: dt.datetime) -> Refusal | None:
        """Why this round does not take a contribution (None: it does, or it is a repeat)."""
        ann, label = self.announcement, f"round {self.announcement.round_id[:12]}…"
        if self.result is not None:
            return Refusal(ReasonCode.ROUND_CLOSED, f"{label} is {self.result.status}")
        if timestamp(now) > ann.deadline:
            return Refusal(ReasonCode.AFTER_DEADLINE, f"{label}: the deadline was {ann.deadline}")
        member = ann.participant(c.country)
        if member is None:
            return Refusal(ReasonCode.NOT_PARTICIPANT, f"{label}: {c.country} is not a participant")
        if c.announcement != self.digest or c.period != ann.period:
            return Refusal(
                ReasonCode.ANNOUNCEMENT_MISMATCH,
                f"{label}: the contribution names announcement {c.announcement[:19]}… of "
                f"{c.period}, not {self.digest[:19]}… of {ann.period}",
            )
        if c.summary != member.summary:
            return Refusal(
                ReasonCode.ANNOUNCEMENT_MISMATCH,
                f"{label}: {c.country}'s counts match summary {c.summary[:19]}…; the round "
                f"names r{member.revision} ({member.summary[:19]}…)",
            )
        if c.codebook != ann.codebook:
            return Refusal(
                ReasonCode.CODEBOOK_MISMATCH,
                f"{label}: {c.country} counted in codebook {c.codebook.id} v{c.codebook.version}"
                f" ({c.codebook.digest[:19]}…); the round's is v{ann.codebook.version}",
            )
        shape = [(t.name, t.cells) for t in ann.tables]
        if [(m.name, len(m.values)) for m in c.tables] != shape:
            got = ", ".join(f"{m.name}[{len(m.values)}]" for m in c.tables)
            return Refusal(
                ReasonCode.WRONG_SHAPE,
                f"{label}: {c.country} sent {got}; the round has "
                + ", ".join(f"{n}[{k}]" for n, k in shape),
            )
        earlier = self.contributions.get(c.country)
        if earlier is not None and earlier[0] != digest:
            return Refusal(
                ReasonCode.CONFLICTING_CONTRIBUTION,
                f"{label}: {c.country} already contributed {earlier[0][:19]}…",
            )
        return None

    def result_now(self, now: dt.datetime, *, abort: bool = False) -> RoundResult | None:
        """The round's result if it can close now: complete when every participant has
        contributed; aborted once the deadline passed, or at once with ``abort``."""
        if self.result is not None:
            return self.result
        refs = tuple(
            ContributionRef(country=c, envelope_sha256=d, log_index=i)
            for c, (d, _, i) in sorted(self.contributions.items())
        )
        base = {
            "round_id": self.announcement.round_id,
            "announcement": self.digest,
            "announcement_log_index": self.log_index,
            "period": self.announcement.period,
            "closed_at": timestamp(now),
            "contributions": refs,
        }
        if not self.missing:
            got = [c for _, c, _ in (self.contributions[k] for k in sorted(self.contributions))]
            return RoundResult(status="complete", sums=signed_sums(self.announcement, got), **base)
        if abort or timestamp(now) > self.announcement.deadline:
            return RoundResult(status="aborted", missing=self.missing, **base)
        return None

    def result_refusal(self, result: RoundResult) -> Refusal | None:
        """Why a result does not close this round as its log says (None: it does)."""
        if self.result is not None:
            return Refusal(ReasonCode.ROUND_CLOSED, f"round {result.round_id[:12]}… is closed")
        want = self.result_now(dt.datetime.fromisoformat(result.closed_at), abort=True)
        assert want is not None
        same = want.model_copy(update={"closed_at": result.closed_at})
        if result != same:
            return Refusal(
                ReasonCode.RESULT_MISMATCH,
                f"round {result.round_id[:12]}…: the result does not match its logged "
                f"contributions ({result.status}, {len(result.contributions)} contributions)",
            )
        return None


@dataclass
class RoundBook:
    """Every round of a log, by id, built envelope by envelope in log order."""

    rounds: dict[str, Round] = field(default_factory=dict)
    by_announcement: dict[str, str] = field(default_factory=dict)  # digest -> round id

    def announce(self, ann: RoundAnnouncement, digest: str, index: int | None) -> None:
        self.rounds[ann.round_id] = Round(ann, digest, index)
        self.by_announcement[digest] = ann.round_id

    def contribute(self, c: Contribution, digest: str, index: int | None) -> None:
        self.rounds[c.round_id].contributions[c.country] = (digest, c, index)

    def close(self, result: RoundResult, digest: str, index: int | None = None) -> None:
        r = self.rounds[result.round_id]
        r.result, r.result_digest, r.result_index = result, digest, index

    def round_of(self, round_id: str) -> Round | None:
        return self.rounds.get(round_id)

    def complete(self, period: str) -> list[Round]:
        """The complete rounds of a period, newest (last announced) first."""
        done = [
            r
            for r in self.rounds.values()
            if r.announcement.period == period and r.result and r.result.status == "complete"
        ]
        return sorted(done, key=lambda r: (r.log_index or 0, r.announcement.created_at))[::-1]
