"""C2SP signed notes and tlog checkpoints (with optional witness cosignatures).

A note is UTF-8 text ending in a newline, a blank line, then signature lines
``— <name> <base64(key ID ‖ signature)>``. For Ed25519 the key ID is the first four bytes
of SHA-256(name ‖ "\\n" ‖ 0x01 ‖ public key) and the signature covers the text. A
checkpoint's text is the log origin, the tree size in decimal and the base64 root hash, one
per line. A witness cosignature (C2SP tlog-cosignature, algorithm 0x04) signs
``"cosignature/v1\\ntime <t>\\n" ‖ text`` and carries key ID ‖ 8-byte time ‖ signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from vanfed.errors import ReasonCode, VerificationError
from vanfed.signing import PublicKey, Signer

__all__ = [
    "MAX_NOTE_BYTES",
    "Checkpoint",
    "NoteSignature",
    "cosign",
    "key_id",
    "open_note",
    "sign_note",
    "verified_checkpoint",
    "verify_cosignature",
]

MAX_NOTE_BYTES = 16 * 1024
ED25519, COSIGNATURE = 0x01, 0x04
_DASH = "\u2014"
_NAME = re.compile(r"^[^\s+]+$")
_ORIGIN = re.compile(r"^[\x21-\x7e]+$")


def key_id(name: str, public: bytes, algorithm: int = ED25519) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([algorithm]) + public).digest()[:4]


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def text(self) -> bytes:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n".encode()

    @classmethod
    def parse(cls, text: bytes) -> Checkpoint:
        lines = text.decode("utf-8", "strict").split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise VerificationError(
                "checkpoint: needs origin, size and root lines", (ReasonCode.MALFORMED_CHECKPOINT,)
            )
        origin, size, root = lines[0], lines[1], lines[2]
        if not _ORIGIN.match(origin):
            raise VerificationError(
                "checkpoint: bad origin line", (ReasonCode.MALFORMED_CHECKPOINT,)
            )
        if not size.isdigit() or (size != "0" and size.startswith("0")):
            raise VerificationError(
                "checkpoint: size is not a decimal number", (ReasonCode.MALFORMED_CHECKPOINT,)
            )
        try:
            raw = base64.b64decode(root, validate=True)
        except binascii.Error as exc:
            raise VerificationError(
                "checkpoint: root is not base64", (ReasonCode.MALFORMED_CHECKPOINT,)
            ) from exc
        if len(raw) != 32:
            raise VerificationError(
                "checkpoint: root is not 32 bytes", (ReasonCode.MALFORMED_CHECKPOINT,)
            )
        return cls(origin, int(size), raw)


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes  # after the key ID

    def line(self) -> bytes:
        blob = base64.b64encode(self.key_id + self.signature).decode()
        return f"{_DASH} {self.name} {blob}\n".encode()


def sign_note(text: bytes, name: str, signer: Signer, public: bytes) -> bytes:
    """A complete note: the text, a blank line, one Ed25519 signature line."""
    if not text.endswith(b"\n") or not _NAME.match(name):
        raise ValueError("a note text ends in a newline; a key name has no spaces or '+'")
    sig = NoteSignature(name, key_id(name, public), signer.sign(text))
    return text + b"\n" + sig.line()


def open_note(data: bytes) -> tuple[bytes, list[NoteSignature]]:
    """Split a note into its text and signature lines (unverified).

    Raises:
        VerificationError: ``malformed_checkpoint`` for anything that is not a note.
    """
    if len(data) > MAX_NOTE_BYTES:
        raise VerificationError(f"note: over {MAX_NOTE_BYTES} bytes", (ReasonCode.TOO_LARGE,))
    try:
        whole = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise VerificationError("note: not UTF-8", (ReasonCode.MALFORMED_CHECKPOINT,)) from exc
    cut = whole.rfind("\n\n")
    if cut < 0 or not whole.endswith("\n"):
        raise VerificationError(
            "note: no blank line before the signatures", (ReasonCode.MALFORMED_CHECKPOINT,)
        )
    text, sig_block = data[: cut + 1], whole[cut + 2 :]
    sigs = []
    for line in sig_block.splitlines():
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != _DASH or not _NAME.match(parts[1]):
            raise VerificationError(
                f"note: bad signature line {line[:40]!r}", (ReasonCode.MALFORMED_CHECKPOINT,)
            )
        try:
            blob = base64.b64decode(parts[2], validate=True)
        except binascii.Error as exc:
            raise VerificationError(
                "note: signature is not base64", (ReasonCode.MALFORMED_CHECKPOINT,)
            ) from exc
        if len(blob) < 5:
            raise VerificationError("note: signature too short", (ReasonCode.MALFORMED_CHECKPOINT,))
        sigs.append(NoteSignature(parts[1], blob[:4], blob[4:]))
    if not sigs:
        raise VerificationError("note: no signature", (ReasonCode.MALFORMED_CHECKPOINT,))
    return text, sigs


def verified_checkpoint(
    data: bytes, log_keys: list[bytes], *, origin: str | None = None
) -> tuple[Checkpoint, list[NoteSignature]]:
    """Parse a checkpoint note signed by one of ``log_keys`` (raw Ed25519).

    Returns the checkpoint and its other (unverified) signature lines, e.g. cosignatures.

    Raises:
        VerificationError: ``malformed_checkpoint``, ``unknown_log_key``, ``bad_signature``
            or ``wrong_origin``.
    """
    text, sigs = open_note(data)
    checkpoint = Checkpoint.parse(text)
    if origin is not None and checkpoint.origin != origin:
        raise VerificationError(
            f"checkpoint: origin {checkpoint.origin!r}, expected {origin!r}",
            (ReasonCode.WRONG_ORIGIN,),
        )
    others = []
    signed = False
    for sig in sigs:
        match = [k for k in log_keys if key_id(sig.name, k) == sig.key_id]
        if not match:
            others.append(sig)
            continue
        if not PublicKey(match[0]).verify(sig.signature, text):
            raise VerificationError(
                f"checkpoint: signature by {sig.name} does not verify", (ReasonCode.BAD_SIGNATURE,)
            )
        signed = True
    if not signed:
        raise VerificationError(
            "checkpoint: not signed by a log key in the registry", (ReasonCode.UNKNOWN_LOG_KEY,)
        )
    return checkpoint, others


def cosign(text: bytes, name: str, signer: Signer, public: bytes, timestamp: int) -> bytes:
    """A witness cosignature line (tlog-cosignature v1) over a checkpoint text."""
    message = b"cosignature/v1\ntime %d\n" % timestamp + text
    sig = NoteSignature(
        name,
        key_id(name, public, COSIGNATURE),
        timestamp.to_bytes(8, "big") + signer.sign(message),
    )
    return sig.line()


def verify_cosignature(text: bytes, sig: NoteSignature, public: bytes) -> int | None:
    """The cosignature's time if ``sig`` is a valid cosignature by ``public``, else None."""
    if key_id(sig.name, public, COSIGNATURE) != sig.key_id or len(sig.signature) != 72:
        return None
    timestamp = int.from_bytes(sig.signature[:8], "big")
    message = b"cosignature/v1\ntime %d\n" % timestamp + text
    return timestamp if PublicKey(public).verify(sig.signature[8:], message) else None
