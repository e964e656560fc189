"""Proofs an auditor or a node holds against the log: an inclusion proof (an envelope at an
index of a signed checkpoint) and a consistency proof (one checkpoint extends another).

The same checks serve the CLI's ``log prove|verify|consistency``, the outbox's fork
detection and the audit; a failed check raises :class:`~vanfed.errors.LogError` or
:class:`~vanfed.errors.VerificationError` with a stable reason code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vanfed.errors import InputError, LogError, ReasonCode, VerificationError
from vanfed.tlog._log import TransparencyLog
from vanfed.tlog._merkle import leaf_hash, verify_consistency, verify_inclusion
from vanfed.tlog._note import Checkpoint, verified_checkpoint

__all__ = ["InclusionProof", "check_consistency", "inclusion_proof", "verify_included"]


@dataclass(frozen=True)
class InclusionProof:
    """An entry's place in the log at a signed checkpoint (tlog-proof style)."""

    envelope_sha256: str
    index: int
    checkpoint: bytes  # the signed note
    inclusion: tuple[bytes, ...]

    def to_json_obj(self) -> dict[str, Any]:
        return {
            "envelope_sha256": self.envelope_sha256,
            "index": self.index,
            "checkpoint": self.checkpoint.decode(),
            "inclusion": [h.hex() for h in self.inclusion],
        }

    @classmethod
    def from_json_obj(cls, obj: Mapping[str, Any], *, subject: str) -> InclusionProof:
        """Parse a proof (``log prove``) or the ``log`` member of a receipt."""
        try:
            return cls(
                str(obj.get("envelope_sha256", "")),
                int(obj["index"]),
                str(obj["checkpoint"]).encode(),
                tuple(bytes.fromhex(h) for h in obj["inclusion"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"{subject}: not an inclusion proof ({exc})") from exc


def inclusion_proof(log: TransparencyLog, digest: str, size: int | None = None) -> InclusionProof:
    """The proof that ``digest`` is in ``log`` at the checkpoint of ``size`` (default: the
    latest checkpoint).

    Raises:
        VerificationError: ``not_in_log``.
        InputError: no checkpoint of that size, or the entry lies beyond it.
    """
    if digest not in log.by_digest:
        raise VerificationError(f"{digest[:19]}…: not in the log", (ReasonCode.NOT_IN_LOG,))
    notes = {cp.size: note for cp, note in log.checkpoints}
    size = size if size is not None else max(notes, default=0)
    if size not in notes:
        raise InputError(f"no checkpoint of size {size}; sizes signed: {sorted(notes)[-5:]}…")
    index = log.by_digest[digest]
    if index >= size:
        raise InputError(f"entry {index} is not within size {size}")
    path = tuple(log.tree.inclusion_proof(index, size))
    return InclusionProof(digest, index, notes[size], path)


def verify_included(envelope: bytes, proof: InclusionProof, log_keys: list[bytes]) -> Checkpoint:
    """Check that ``envelope`` sits at ``proof.index`` of the proof's signed checkpoint.

    Raises:
        VerificationError: the checkpoint is not signed by a log key, or
            ``inclusion_failed``.
    """
    checkpoint, _ = verified_checkpoint(proof.checkpoint, log_keys)
    if not verify_inclusion(
        leaf_hash(envelope), proof.index, checkpoint.size, list(proof.inclusion), checkpoint.root
    ):
        raise VerificationError(
            f"the envelope is NOT at index {proof.index} of the log of size {checkpoint.size}",
            (ReasonCode.INCLUSION_FAILED,),
        )
    return checkpoint


def check_consistency(first: Checkpoint, second: Checkpoint, proof: list[bytes]) -> None:
    """Check that ``second`` extends ``first`` (RFC 6962 §2.1.2), in either order.

    Raises:
        LogError: ``log_forked``, naming both sizes and roots.
    """
    a, b = sorted((first, second), key=lambda c: c.size)
    if a.size == b.size:
        ok = a.root == b.root
    else:
        ok = verify_consistency(a.size, b.size, a.root, b.root, proof)
    if not ok:
        raise LogError(
            f"the log forked: checkpoint of size {a.size} ({a.root.hex()[:16]}…) is not a "
            f"prefix of size {b.size} ({b.root.hex()[:16]}…); keep both and alert the auditors",
            (ReasonCode.LOG_FORKED,),
        )
