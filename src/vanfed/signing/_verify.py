"""Verification: bytes first, authority second, parsing last.

Two forms (python-tuf style): :func:`verification_result` never raises and lists every
problem with a stable reason code; :func:`verify` raises :class:`VerificationError` and
returns the verified, parsed payload. Anything read before its signature is checked is
named ``unverified_*``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Generic, TypeVar, overload

from pydantic import BaseModel, ValidationError

from vanfed._json import loads_canonical
from vanfed.errors import (
    DuplicateKeyError,
    InputError,
    ReasonCode,
    RegistryError,
    UntrustedKeyError,
    VerificationError,
)
from vanfed.schema import (
    ANNOUNCEMENT_TYPE,
    CONTRIBUTION_TYPE,
    RECEIPT_TYPE,
    REGISTRY_TYPE,
    REPORT_TYPE,
    RESULT_TYPE,
    SUMMARY_TYPE,
    Contribution,
    KeyEntry,
    Receipt,
    RegionalReport,
    RoundAnnouncement,
    RoundResult,
    Summary,
    TrustRegistry,
    ckm_violations,
)
from vanfed.signing._dsse import Envelope, envelope_digest
from vanfed.signing._keys import PublicKey

__all__ = [
    "ANNOUNCEMENT_PROFILE",
    "CONTRIBUTION_PROFILE",
    "KEY_REASONS",
    "PROFILES",
    "REASONS",
    "RECEIPT_PROFILE",
    "REPORT_PROFILE",
    "RESULT_PROFILE",
    "SUMMARY_PROFILE",
    "Profile",
    "Reason",
    "ReasonCode",
    "VerificationResult",
    "key_valid_at",
    "no_checks",
    "parse_payload",
    "require_aware",
    "timestamp",
    "verification_result",
    "verify",
    "verify_registry",
]

# The reasons an envelope can fail verification for.
REASONS: tuple[ReasonCode, ...] = (
    ReasonCode.BAD_SIGNATURE,
    ReasonCode.UNKNOWN_KEY,
    ReasonCode.WRONG_COUNTRY,
    ReasonCode.WRONG_ROLE,
    ReasonCode.KEY_NOT_YET_VALID,
    ReasonCode.KEY_EXPIRED,
    ReasonCode.KEY_REVOKED,
    ReasonCode.REGISTRY_EXPIRED,
    ReasonCode.REGISTRY_ROLLBACK,
    ReasonCode.UNTRUSTED_ROOT,
    ReasonCode.THRESHOLD_NOT_MET,
    ReasonCode.PAYLOAD_TYPE_MISMATCH,
    ReasonCode.MALFORMED_ENVELOPE,
    ReasonCode.MALFORMED_PAYLOAD,
    ReasonCode.DUPLICATE_KEY,
    ReasonCode.NON_CANONICAL_PAYLOAD,
    ReasonCode.POLICY_VIOLATION,
    ReasonCode.TOO_LARGE,
)
# Reasons that concern the signer's authority (as opposed to the bytes).
KEY_REASONS: frozenset[ReasonCode] = frozenset(
    {
        ReasonCode.UNKNOWN_KEY,
        ReasonCode.WRONG_COUNTRY,
        ReasonCode.WRONG_ROLE,
        ReasonCode.KEY_REVOKED,
        ReasonCode.KEY_EXPIRED,
        ReasonCode.KEY_NOT_YET_VALID,
    }
)
M = TypeVar("M", bound=BaseModel)


@lru_cache(maxsize=16)  # one reference time per run, thousands of envelopes
def require_aware(now: dt.datetime, what: str = "now") -> dt.datetime:
    """``now`` itself, if it carries a time zone.

    Raises:
        InputError: a naive datetime (its meaning would depend on the machine's time zone).
    """
    if not isinstance(now, dt.datetime) or now.tzinfo is None or now.utcoffset() is None:
        raise InputError(
            f"{what}: {now!r} has no time zone; pass an aware datetime, "
            "e.g. datetime.datetime.now(datetime.UTC)"
        )
    return now


def timestamp(now: dt.datetime) -> str:
    """RFC 3339 UTC timestamp (seconds) of an aware datetime; naive ones are refused."""
    return require_aware(now).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Reason:
    code: str
    message: str


@dataclass(frozen=True)
class VerificationResult(Generic[M]):
    """Outcome of verifying one envelope; ``payload`` is set only when ``ok``."""

    digest: str
    reasons: tuple[Reason, ...] = ()
    payload: M | None = None
    signer: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the envelope verified and no reason was found against it."""
        return not self.reasons and self.payload is not None

    @property
    def codes(self) -> tuple[str, ...]:
        """The stable reason codes, in order."""
        return tuple(r.code for r in self.reasons)

    def to_json_obj(self) -> dict[str, Any]:
        """JSON form: ok, signer, reasons (code and message)."""
        return {
            "digest": self.digest,
            "ok": self.ok,
            "signer": self.signer,
            "reasons": [{"code": r.code, "message": r.message} for r in self.reasons],
        }


def parse_payload(payload: bytes, model: type[M]) -> M:
    """Parse verified payload bytes strictly: no duplicate keys or NaN, canonical, valid.

    Raises:
        VerificationError: ``duplicate_key``, ``non_canonical_payload`` or
            ``malformed_payload``.
    """
    try:
        obj, canonical = loads_canonical(payload, subject="payload")
    except DuplicateKeyError as exc:
        raise VerificationError(str(exc), (ReasonCode.DUPLICATE_KEY,)) from exc
    except InputError as exc:
        raise VerificationError(str(exc), (ReasonCode.MALFORMED_PAYLOAD,)) from exc
    if not canonical:
        raise VerificationError(
            "payload: not RFC 8785 canonical JSON", (ReasonCode.NON_CANONICAL_PAYLOAD,)
        )
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "payload"
        raise VerificationError(
            f"payload: {where}: {err['msg']}", (ReasonCode.MALFORMED_PAYLOAD,)
        ) from exc


def _signer_of(
    envelope: Envelope, candidates: tuple[KeyEntry, ...]
) -> tuple[KeyEntry | None, list[Reason]]:
    """The first candidate key whose signature verifies over the PAE."""
    message = envelope.pae
    reasons: list[Reason] = []
    for hint, sig in envelope.signatures:
        # keyid is only a hint: try the hinted key first, then every candidate.
        ordered = sorted(candidates, key=lambda k: k.keyid != hint)
        for key in ordered:
            if PublicKey(key.raw).verify(sig, message):
                return key, []
        hinted = any(k.keyid == hint for k in candidates)
        reasons.append(
            Reason(
                ReasonCode.BAD_SIGNATURE if hinted else ReasonCode.UNKNOWN_KEY,
                f"signature by {hint[:12] or '?'}…: "
                + (
                    "does not verify over the payload"
                    if hinted
                    else "no key in the registry verifies it"
                ),
            )
        )
    return None, reasons


def key_valid_at(key: KeyEntry, when: dt.datetime) -> list[Reason]:
    """Why ``key`` may not sign at ``when`` (empty: it may): revoked, not yet valid, expired.

    Judge a submission at the time the log *received* it: a key revoked or expired later
    does not undo what it signed while valid, and a key revoked before receipt is refused.
    """
    return _window(key, timestamp(when))


def _window(key: KeyEntry, now: str) -> list[Reason]:
    out = []
    short = key.keyid[:12]
    if key.revoked_at is not None and key.revoked_at <= now:
        out.append(
            Reason(
                ReasonCode.KEY_REVOKED,
                f"key {short}… is revoked since {key.revoked_at} ({key.revocation_reason})",
            )
        )
    if key.valid_from > now:
        out.append(
            Reason(ReasonCode.KEY_NOT_YET_VALID, f"key {short}… is valid from {key.valid_from}")
        )
    if key.valid_until is not None and key.valid_until < now:
        out.append(Reason(ReasonCode.KEY_EXPIRED, f"key {short}… expired at {key.valid_until}"))
    return out


@overload
def verification_result(
    data: bytes,
    registry: TrustRegistry,
    *,
    now: dt.datetime,
    profile: None = None,
    key_time: dt.datetime | None = None,
) -> VerificationResult[Summary]: ...
@overload
def verification_result(
    data: bytes,
    registry: TrustRegistry,
    *,
    now: dt.datetime,
    profile: Profile[M],
    key_time: dt.datetime | None = None,
) -> VerificationResult[M]: ...
def verification_result(
    data: bytes,
    registry: TrustRegistry,
    *,
    now: dt.datetime,
    profile: Profile[Any] | None = None,
    key_time: dt.datetime | None = None,
) -> VerificationResult[Any]:
    """Verify an envelope against a registry; never raises.

    Args:
        data: the envelope bytes as received.
        registry: the verified trust registry in force.
        now: reference time for key windows and registry expiry.
        profile: what the envelope must be (payload type, model, signer role, checks);
            default :data:`SUMMARY_PROFILE`.
        key_time: when to judge the signer's validity window (default ``now``); the time the
            transparency log received the envelope, for envelopes already logged.
    """
    prof: Profile[Any] = profile or SUMMARY_PROFILE
    digest = envelope_digest(data)
    ts = timestamp(now)
    if registry.expires < ts:
        return VerificationResult(
            digest,
            (Reason(ReasonCode.REGISTRY_EXPIRED, f"registry expired at {registry.expires}"),),
        )
    limit = registry.policy.max_envelope_bytes
    try:
        env = Envelope.from_bytes(data, max_bytes=limit)
    except VerificationError as exc:
        return VerificationResult(digest, tuple(Reason(c, str(exc)) for c in exc.reasons))
    if env.payload_type != prof.payload_type:
        return VerificationResult(
            digest,
            (
                Reason(
                    ReasonCode.PAYLOAD_TYPE_MISMATCH,
                    f"payloadType is {env.payload_type!r}, expected {prof.payload_type!r}",
                ),
            ),
        )
    role = prof.role
    key, reasons = _signer_of(env, registry.with_role(role))
    if key is None:
        others = tuple(k for k in registry.keys if k.role != role)
        other, _ = _signer_of(env, others)
        if other is not None:
            reasons = [
                Reason(ReasonCode.WRONG_ROLE, f"signed by a {other.role} key; needs a {role} key")
            ]
        return VerificationResult(digest, tuple(reasons))
    reasons = _window(key, timestamp(key_time) if key_time else ts)
    try:
        payload = parse_payload(env.payload, prof.model)
    except VerificationError as exc:
        return VerificationResult(
            digest, (*reasons, *(Reason(c, str(exc)) for c in exc.reasons)), signer=key.keyid
        )
    reasons += prof.check(payload, key, registry)
    return VerificationResult(digest, tuple(reasons), payload if not reasons else None, key.keyid)


def _summary_checks(summary: Summary, key: KeyEntry, registry: TrustRegistry) -> list[Reason]:
    out = []
    if key.country != summary.country:
        out.append(
            Reason(
                ReasonCode.WRONG_COUNTRY,
                f"key {key.keyid[:12]}… belongs to {key.country}, "
                f"the summary is for {summary.country}",
            )
        )
    pol, prot = registry.policy, summary.protection
    if prot.k < pol.min_k or prot.s < pol.min_s:
        out.append(
            Reason(
                ReasonCode.POLICY_VIOLATION,
                f"k = {prot.k}, s = {prot.s}; the registry "
                f"requires k >= {pol.min_k}, s >= {pol.min_s}",
            )
        )
    if prot.ckm is not None:
        # The cell key method: the region's agreed noise, and nothing in 1 … js.
        values = tuple(v for t in summary.tables for v in t.values)
        out += [
            Reason(ReasonCode.POLICY_VIOLATION, f"cell key method: {why}")
            for why in ckm_violations(prot.ckm, pol.ckm, values)
        ]
    return out


def no_checks(payload: object, key: KeyEntry, registry: TrustRegistry) -> list[Reason]:
    """The empty payload check: the signature and the signer's role are all there is."""
    return []


@dataclass(frozen=True)
class Profile(Generic[M]):
    """What one kind of envelope must be: its DSSE payload type, the model its payload
    parses into, the registry role of its signer and the checks on the parsed payload."""

    name: str
    payload_type: str
    model: type[M]
    role: str
    check: Callable[[M, KeyEntry, TrustRegistry], list[Reason]] = no_checks


SUMMARY_PROFILE: Profile[Summary] = Profile(
    "summary", SUMMARY_TYPE, Summary, "node", _summary_checks
)
RECEIPT_PROFILE: Profile[Receipt] = Profile("receipt", RECEIPT_TYPE, Receipt, "coordinator")
REPORT_PROFILE: Profile[RegionalReport] = Profile(
    "report", REPORT_TYPE, RegionalReport, "coordinator"
)


def _contribution_checks(
    contribution: Contribution, key: KeyEntry, registry: TrustRegistry
) -> list[Reason]:
    if key.country == contribution.country:
        return []
    return [
        Reason(
            ReasonCode.WRONG_COUNTRY,
            f"key {key.keyid[:12]}… belongs to {key.country}, "
            f"the contribution is for {contribution.country}",
        )
    ]


# The secure path: the coordinator opens and closes rounds, nodes contribute.
ANNOUNCEMENT_PROFILE: Profile[RoundAnnouncement] = Profile(
    "round announcement", ANNOUNCEMENT_TYPE, RoundAnnouncement, "coordinator"
)
CONTRIBUTION_PROFILE: Profile[Contribution] = Profile(
    "contribution", CONTRIBUTION_TYPE, Contribution, "node", _contribution_checks
)
RESULT_PROFILE: Profile[RoundResult] = Profile(
    "round result", RESULT_TYPE, RoundResult, "coordinator"
)
# Every kind of envelope a coordinator's door takes, by payload type.
PROFILES: dict[str, Profile[Any]] = {
    p.payload_type: p
    for p in (SUMMARY_PROFILE, ANNOUNCEMENT_PROFILE, CONTRIBUTION_PROFILE, RESULT_PROFILE)
}


@overload
def verify(
    data: bytes,
    registry: TrustRegistry,
    *,
    now: dt.datetime,
    profile: None = None,
    key_time: dt.datetime | None = None,
) -> Summary: ...
@overload
def verify(
    data: bytes,
    registry: TrustRegistry,
    *,
    now: dt.datetime,
    profile: Profile[M],
    key_time: dt.datetime | None = None,
) -> M: ...
def verify(
    data: bytes,
    registry: TrustRegistry,
    *,
    now: dt.datetime,
    profile: Profile[Any] | None = None,
    key_time: dt.datetime | None = None,
) -> Any:
    """Verify and return the parsed payload (a :class:`Summary` unless ``profile`` says
    otherwise).

    Raises:
        UntrustedKeyError: the signer's authority fails (a reason in :data:`KEY_REASONS`).
        VerificationError: anything else, with every reason code.
    """
    result = verification_result(
        data, registry, now=now, profile=profile or SUMMARY_PROFILE, key_time=key_time
    )
    if result.payload is None or not result.ok:
        codes = result.codes
        msg = "; ".join(r.message for r in result.reasons)
        cls = UntrustedKeyError if KEY_REASONS & set(codes) else VerificationError
        raise cls(f"envelope {result.digest[7:19]}…: {msg}", codes)
    return result.payload


def _threshold(env: Envelope, registry: TrustRegistry, ts: str) -> int:
    roots = [k for k in registry.with_role("root") if not _window(k, ts)]
    signed = set()
    for _hint, sig in env.signatures:
        for key in roots:
            if key.keyid not in signed and PublicKey(key.raw).verify(sig, env.pae):
                signed.add(key.keyid)
                break
    return len(signed)


def verify_registry(
    data: bytes, *, now: dt.datetime, previous: TrustRegistry | None = None
) -> TrustRegistry:
    """Verify a registry envelope: own root threshold, and the previous version's if given.

    Raises:
        RegistryError: ``threshold_not_met``, ``registry_rollback``, ``registry_expired``,
            or a malformed envelope or payload.
    """
    try:
        env = Envelope.from_bytes(data)
    except VerificationError as exc:  # not a registry at all: unusable input, not a verdict
        raise InputError(f"registry: {exc}") from exc
    if env.payload_type != REGISTRY_TYPE:
        raise RegistryError(
            f"registry: payloadType is {env.payload_type!r}", (ReasonCode.PAYLOAD_TYPE_MISMATCH,)
        )
    unverified_registry = parse_payload(env.payload, TrustRegistry)
    ts = timestamp(now)
    for label, reg in (("previous", previous), ("its own", unverified_registry)):
        if reg is None:
            continue
        got = _threshold(env, reg, ts)
        if got < reg.root_threshold:
            raise RegistryError(
                f"registry v{unverified_registry.version}: signed by {got} of "
                f"{label} root keys, needs {reg.root_threshold}",
                (ReasonCode.THRESHOLD_NOT_MET,),
            )
    if previous is not None and unverified_registry.version <= previous.version:
        raise RegistryError(
            f"registry v{unverified_registry.version} does not follow v{previous.version}",
            (ReasonCode.REGISTRY_ROLLBACK,),
        )
    if unverified_registry.expires < ts:
        raise RegistryError(
            f"registry v{unverified_registry.version} expired at {unverified_registry.expires}",
            (ReasonCode.REGISTRY_EXPIRED,),
        )
    return unverified_registry
