"""Moving envelopes: the coordinator's inbox and HTTP service, the node's outbox, file drop,
HPKE sealing, and the transparency log with its checkpoints, proofs and receipts."""

from vanfed.transport._bundle import Imported, import_path
from vanfed.transport._hpke import SEALED_MEDIA_TYPE, open_sealed, seal, sealing_key
from vanfed.transport._inbox import Accepted, Inbox, Rejected, http_status
from vanfed.transport._log import DEFAULT_ORIGIN, LogEntry, TransparencyLog, log_folder
from vanfed.transport._merkle import (
    EMPTY_ROOT,
    MerkleTree,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from vanfed.transport._note import (
    Checkpoint,
    NoteSignature,
    cosign,
    open_note,
    sign_note,
    verified_checkpoint,
    verify_cosignature,
)
from vanfed.transport._outbox import BytesDisk, Delivery, Outbox, deliver_error
from vanfed.transport._receipts import log_keys, make_receipt, verify_receipt
from vanfed.transport._serve import serve
from vanfed.transport._server import create_app

__all__ = [
    "DEFAULT_ORIGIN",
    "EMPTY_ROOT",
    "SEALED_MEDIA_TYPE",
    "Accepted",
    "BytesDisk",
    "Checkpoint",
    "Delivery",
    "Imported",
    "Inbox",
    "LogEntry",
    "MerkleTree",
    "NoteSignature",
    "Outbox",
    "Rejected",
    "TransparencyLog",
    "cosign",
    "create_app",
    "deliver_error",
    "http_status",
    "import_path",
    "leaf_hash",
    "log_folder",
    "log_keys",
    "make_receipt",
    "node_hash",
    "open_note",
    "open_sealed",
    "seal",
    "sealing_key",
    "serve",
    "sign_note",
    "verified_checkpoint",
    "verify_consistency",
    "verify_cosignature",
    "verify_inclusion",
    "verify_receipt",
]
