"""The transparency log: the RFC 6962 Merkle tree, C2SP signed-note checkpoints, the
durable append-only log on disk, receipts, and the inclusion and consistency proofs that
nodes and auditors check."""

from vanfed.schema import log_folder  # the inbox layout names where a log lives
from vanfed.tlog._log import DEFAULT_ORIGIN, LogEntry, TransparencyLog
from vanfed.tlog._merkle import (
    EMPTY_ROOT,
    MerkleTree,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from vanfed.tlog._note import (
    MAX_NOTE_BYTES,
    Checkpoint,
    NoteSignature,
    cosign,
    open_note,
    sign_note,
    verified_checkpoint,
    verify_cosignature,
)
from vanfed.tlog._proofs import (
    InclusionProof,
    check_consistency,
    inclusion_proof,
    verify_included,
)
from vanfed.tlog._receipts import log_keys, make_receipt, verify_receipt

__all__ = [
    "DEFAULT_ORIGIN",
    "EMPTY_ROOT",
    "MAX_NOTE_BYTES",
    "Checkpoint",
    "InclusionProof",
    "LogEntry",
    "MerkleTree",
    "NoteSignature",
    "TransparencyLog",
    "check_consistency",
    "cosign",
    "inclusion_proof",
    "leaf_hash",
    "log_folder",
    "log_keys",
    "make_receipt",
    "node_hash",
    "open_note",
    "sign_note",
    "verified_checkpoint",
    "verify_consistency",
    "verify_cosignature",
    "verify_included",
    "verify_inclusion",
    "verify_receipt",
]
