"""DSSE v1 envelopes: sign exact bytes, verify exact bytes, then parse.

PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, with LEN the ASCII
decimal byte length (DSSE protocol.md). Signatures are Ed25519 over PAE. Payload and
signatures are standard base64 on output; URL-safe base64 is accepted on input.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vanfed._json import canonical_bytes, loads_strict
from vanfed.errors import DuplicateKeyError, InputError, ReasonCode, VerificationError
from vanfed.schema import SUMMARY_TYPE, Summary
from vanfed.signing._keys import Signer

__all__ = [
    "MAX_ENVELOPE_BYTES",
    "Envelope",
    "envelope_digest",
    "pae",
    "sign_envelope",
    "statement_digest",
]

MAX_ENVELOPE_BYTES = 16 * 1024 * 1024


def pae(payload_type: str, body: bytes) -> bytes:
    """DSSE pre-authentication encoding."""
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(body), body)


def _b64decode(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise VerificationError(
            f"envelope: {what} is not a string", (ReasonCode.MALFORMED_ENVELOPE,)
        )
    padded = text + "=" * (-len(text) % 4) if len(text) % 4 else text
    try:
        if "-" in text or "_" in text:
            return base64.urlsafe_b64decode(padded)
        return binascii.a2b_base64(padded, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise VerificationError(
            f"envelope: {what} is not base64", (ReasonCode.MALFORMED_ENVELOPE,)
        ) from exc


@dataclass(frozen=True)
class Envelope:
    """A parsed DSSE envelope; ``payload`` is the exact signed bytes (unverified)."""

    payload_type: str
    payload: bytes
    signatures: tuple[tuple[str, bytes], ...]  # (keyid hint, signature)

    @classmethod
    def from_bytes(cls, data: bytes, *, max_bytes: int = MAX_ENVELOPE_BYTES) -> Envelope:
        """Parse the envelope wrapper (not the payload). Unknown fields are ignored.

        Raises:
            VerificationError: ``too_large``, ``malformed_envelope`` or ``duplicate_key``.
        """
        if len(data) > max_bytes:
            raise VerificationError(
                f"envelope: {len(data)} bytes is over the limit of {max_bytes}",
                (ReasonCode.TOO_LARGE,),
            )
        try:
            obj = loads_strict(data, subject="envelope")
        except DuplicateKeyError as exc:
            raise VerificationError(str(exc), (ReasonCode.DUPLICATE_KEY,)) from exc
        except InputError as exc:
            raise VerificationError(str(exc), (ReasonCode.MALFORMED_ENVELOPE,)) from exc
        if not isinstance(obj, dict):
            raise VerificationError("envelope: not a JSON object", (ReasonCode.MALFORMED_ENVELOPE,))
        ptype, sigs = obj.get("payloadType"), obj.get("signatures")
        if not isinstance(ptype, str) or not isinstance(sigs, list) or not sigs:
            raise VerificationError(
                "envelope: needs payloadType and a non-empty signatures list",
                (ReasonCode.MALFORMED_ENVELOPE,),
            )
        payload = _b64decode(obj.get("payload"), "payload")
        parsed = []
        for s in sigs:
            if not isinstance(s, dict):
                raise VerificationError(
                    "envelope: a signature is not an object", (ReasonCode.MALFORMED_ENVELOPE,)
                )
            keyid = s.get("keyid", "")
            if not isinstance(keyid, str):
                raise VerificationError(
                    "envelope: keyid is not a string", (ReasonCode.MALFORMED_ENVELOPE,)
                )
            parsed.append((keyid, _b64decode(s.get("sig"), "sig")))
        return cls(ptype, payload, tuple(parsed))

    def to_bytes(self) -> bytes:
        """Canonical JSON of the envelope (standard base64)."""
        return canonical_bytes(
            {
                "payload": base64.b64encode(self.payload).decode(),
                "payloadType": self.payload_type,
                "signatures": [
                    {"keyid": k, "sig": base64.b64encode(s).decode()} for k, s in self.signatures
                ],
            }
        )

    @property
    def pae(self) -> bytes:
        """The DSSE pre-authentication encoding of this envelope's type and payload."""
        return pae(self.payload_type, self.payload)

    def only(self, signature: tuple[str, bytes]) -> Envelope:
        """The same statement carrying one signature (its canonical one-signature form:
        a re-encoding of the envelope, or extra signatures, do not change it)."""
        return Envelope(self.payload_type, self.payload, (signature,))


def statement_digest(data: bytes) -> str:
    """``sha256:<hex>`` of what an envelope signs (the PAE of payload type and payload):
    the identity of a submission whatever its encoding or signature hints."""
    return "sha256:" + hashlib.sha256(Envelope.from_bytes(data).pae).hexdigest()


def sign_envelope(payload: bytes, payload_type: str, signers: Sequence[Signer]) -> Envelope:
    """Sign ``payload`` (exact bytes) with every signer."""
    message = pae(payload_type, payload)
    return Envelope(payload_type, payload, tuple((s.keyid, s.sign(message)) for s in signers))


def envelope_digest(data: bytes) -> str:
    """``sha256:<hex>`` of an envelope's bytes as received (its identity everywhere)."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def sign_summary(summary: Summary, signer: Signer) -> bytes:
    """DSSE envelope bytes of a summary's canonical JSON (no ledger: see ``Node.sign``)."""
    return sign_envelope(summary.canonical_bytes(), SUMMARY_TYPE, [signer]).to_bytes()
