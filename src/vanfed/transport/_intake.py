"""What comes through the door, before the inbox looks at it: a sealed blob opened, the
envelope verified by the profile of its payload type (summary, or a part of a secure round),
its canonical form, and the one refusal type the coordinator answers with."""

from __future__ import annotations

import datetime as dt
from typing import Any

from vanfed.errors import ReasonCode, VerificationError
from vanfed.schema import SUMMARY_TYPE, Summary, TrustRegistry
from vanfed.signing import (
    PROFILES,
    EncryptionKeyPair,
    Envelope,
    PublicKey,
    VerificationResult,
    envelope_digest,
    verification_result,
)
from vanfed.transport._hpke import is_sealed, open_sealed
from vanfed.transport._rounds import RoundItem

__all__ = ["Item", "Rejected", "canonical_envelope", "unavailable", "verified"]

Item = Summary | RoundItem


class Rejected(VerificationError):
    """A submission the coordinator refuses; ``reasons`` are stable codes."""

    def __init__(self, message: str, reasons: tuple[str, ...], digest: str | None = None) -> None:
        super().__init__(message, reasons)
        self.digest = digest


def unavailable(message: str, digest: str | None) -> Rejected:
    return Rejected(
        f"storage unavailable, nothing accepted: {message}",
        (ReasonCode.STORAGE_UNAVAILABLE,),
        digest,
    )


def canonical_envelope(data: bytes, registry: TrustRegistry, keyid: str) -> bytes:
    """The envelope re-encoded canonically with only the signature by ``keyid`` (the key
    verification found), so that a re-encoded copy is the very same submission."""
    env = Envelope.from_bytes(data)
    key = registry.key(keyid)
    assert key is not None  # verification found it there
    public = PublicKey(key.raw)
    sig = next(s for _, s in env.signatures if public.verify(s, env.pae))
    return env.only((keyid, sig)).to_bytes()


def verified(
    data: bytes,
    registry: TrustRegistry,
    encryption_keys: list[EncryptionKeyPair],
    now: dt.datetime,
) -> tuple[bytes, Item]:
    """The envelope in canonical form (its verified signature only) and its payload:
    a summary, or a part of a secure round, verified by the profile of its type."""
    sealed_country = None
    if is_sealed(data):
        try:
            sealed_country, data = open_sealed(data, encryption_keys)
        except VerificationError as exc:
            raise Rejected(str(exc), exc.reasons) from exc
    try:
        kind = Envelope.from_bytes(data).payload_type  # unverified: it only picks checks
    except VerificationError:
        kind = SUMMARY_TYPE  # verification says what is wrong with it
    profile = PROFILES.get(kind, PROFILES[SUMMARY_TYPE])
    result: VerificationResult[Any] = verification_result(data, registry, now=now, profile=profile)
    if not result.ok or result.payload is None or result.signer is None:
        raise Rejected(
            "; ".join(r.message for r in result.reasons) or f"not a valid {profile.name}",
            result.codes or (ReasonCode.MALFORMED_ENVELOPE,),
            envelope_digest(data),
        )
    item: Item = result.payload
    canonical = canonical_envelope(data, registry, result.signer)
    country = getattr(item, "country", None)
    if sealed_country is not None and sealed_country != country:
        raise Rejected(
            f"sealed for {sealed_country}, but the {profile.name} is for {country}",
            (ReasonCode.WRONG_COUNTRY,),
            envelope_digest(canonical),
        )
    return canonical, item
