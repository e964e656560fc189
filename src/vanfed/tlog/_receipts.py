"""Making and checking receipts (see :mod:`vanfed.schema._receipt`)."""

from __future__ import annotations

import datetime as dt
import hashlib

from vanfed.errors import ReasonCode, VerificationError
from vanfed.schema import RECEIPT_TYPE, Receipt, TrustRegistry
from vanfed.signing import (
    RECEIPT_PROFILE,
    Envelope,
    Signer,
    envelope_digest,
    sign_envelope,
    verification_result,
)
from vanfed.tlog._merkle import leaf_hash, verify_inclusion
from vanfed.tlog._note import Checkpoint, verified_checkpoint

__all__ = ["log_keys", "make_receipt", "verify_receipt"]


def make_receipt(receipt: Receipt, coordinator: Signer) -> bytes:
    return sign_envelope(receipt.canonical_bytes(), RECEIPT_TYPE, [coordinator]).to_bytes()


def log_keys(registry: TrustRegistry) -> list[bytes]:
    return [k.raw for k in registry.with_role("log") if k.revoked_at is None]


def _as_logged(envelope: bytes, digest: str) -> bytes | None:
    """The bytes the coordinator logged for ``envelope``: the envelope itself, or its
    canonical one-signature form (the inbox stores that, whatever encoding arrived)."""
    candidates = [envelope]
    try:
        env = Envelope.from_bytes(envelope)
    except VerificationError:
        env = None
    if env is not None:
        candidates += [env.only(sig).to_bytes() for sig in env.signatures]
    return next(
        (c for c in candidates if "sha256:" + hashlib.sha256(c).hexdigest() == digest), None
    )


def verify_receipt(
    data: bytes, registry: TrustRegistry, *, envelope: bytes, now: dt.datetime
) -> tuple[Receipt, Checkpoint]:
    """Check a receipt for ``envelope`` completely: the coordinator's signature, the digest,
    the log checkpoint's signature and the inclusion proof of the envelope at its index.

    Raises:
        VerificationError: with reason codes (``bad_signature``, ``receipt_mismatch``,
            ``unknown_log_key``, ``inclusion_failed``, …).
    """
    result = verification_result(data, registry, now=now, profile=RECEIPT_PROFILE)
    if not result.ok or result.payload is None:
        raise VerificationError(
            "receipt: " + "; ".join(r.message for r in result.reasons), result.codes
        )
    receipt = result.payload
    digest = envelope_digest(envelope)
    logged = _as_logged(envelope, receipt.envelope_sha256)
    if logged is None:
        raise VerificationError(
            f"receipt: names {receipt.envelope_sha256[:19]}…, not this envelope ({digest[:19]}…)",
            (ReasonCode.RECEIPT_MISMATCH,),
        )
    envelope = logged
    checkpoint, _ = verified_checkpoint(receipt.log.checkpoint.encode(), log_keys(registry))
    if not verify_inclusion(
        leaf_hash(envelope),
        receipt.log.index,
        checkpoint.size,
        receipt.log.inclusion_bytes,
        checkpoint.root,
    ):
        raise VerificationError(
            f"receipt: the envelope is not at index {receipt.log.index} of the log checkpoint "
            f"(size {checkpoint.size})",
            (ReasonCode.INCLUSION_FAILED,),
        )
    return receipt, checkpoint
