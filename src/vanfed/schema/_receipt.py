"""Receipts: the coordinator's signed word that a submission was accepted and logged.

A receipt (DSSE, type :data:`RECEIPT_TYPE`, signed by a coordinator key) names the envelope
by its SHA-256, the time it was received and its index in the transparency log, and carries
the log checkpoint (a C2SP signed note, signed by the log key) with an inclusion proof of the
envelope at that index, so that a node can prove, alone, that its submission is in the log.
"""

from __future__ import annotations

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer

from vanfed.schema._base import Model
from vanfed.schema._summary import PERIOD_PATTERN, TIMESTAMP

__all__ = ["RECEIPT_TYPE", "LogProof", "Receipt"]

RECEIPT_TYPE = "application/vnd.vanfed.receipt.v1+json"
HEX32 = r"^[0-9a-f]{64}$"


class LogProof(Model):
    """Where an entry sits in the log, and the proof (tlog-proof style)."""

    index: int = Field(ge=0)
    checkpoint: str  # the signed note, as text
    inclusion: tuple[str, ...] = Field(default=(), max_length=64)  # hex hashes

    @property
    def inclusion_bytes(self) -> list[bytes]:
        """The inclusion proof's hashes as bytes."""
        return [bytes.fromhex(h) for h in self.inclusion]


class Receipt(Model):
    """The coordinator's signed acknowledgement of an accepted envelope."""

    schema_version: int = Field(default=1, ge=1, le=1)
    envelope_sha256: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    country: str = Field(pattern=r"^[A-Z]{3}$")
    period: str = Field(pattern=PERIOD_PATTERN)
    revision: int = Field(ge=1)
    received_at: str = Field(pattern=TIMESTAMP)
    sequence: int = Field(ge=0)  # = log index: the order of acceptance
    log: LogProof
    # The trust registry in force when the coordinator signed this receipt.
    registry_version: int | None = Field(default=None, ge=1)
    registry_digest: str | None = Field(default=None, pattern=r"^sha256:[0-9a-f]{64}$")
    # A contribution to a secure round (``revision`` is then that of the national summary
    # the round names); left out of the signed bytes for a summary's receipt.
    round_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{32}$")

    @model_serializer(mode="wrap")
    def _omit_absent(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        out: dict[str, object] = handler(self)
        if self.round_id is None:
            out.pop("round_id", None)
        return out
