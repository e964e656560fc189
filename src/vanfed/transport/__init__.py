"""Moving envelopes: the coordinator's inbox and HTTP service, the node's outbox, file drop
and HPKE sealing. The transparency log lives in :mod:`vanfed.tlog`; its names are passed on
here for callers that import them from transport."""

from vanfed.tlog import (
    DEFAULT_ORIGIN,
    EMPTY_ROOT,
    Checkpoint,
    LogEntry,
    MerkleTree,
    NoteSignature,
    TransparencyLog,
    cosign,
    leaf_hash,
    log_folder,
    log_keys,
    make_receipt,
    node_hash,
    open_note,
    sign_note,
    verified_checkpoint,
    verify_consistency,
    verify_cosignature,
    verify_inclusion,
    verify_receipt,
)
from vanfed.transport._bundle import Imported, import_path, import_remote
from vanfed.transport._client import Answer, CoordinatorClient
from vanfed.transport._fetch import fetch_publications
from vanfed.transport._hpke import SEALED_MEDIA_TYPE, open_sealed, seal, sealing_key
from vanfed.transport._inbox import Accepted, Inbox, Rejected
from vanfed.transport._openapi import OPENAPI
from vanfed.transport._outbox import BytesDisk, Delivery, Outbox, deliver_error
from vanfed.transport._rounds import read_rounds
from vanfed.transport._serve import serve
from vanfed.transport._server import create_app, http_status

__all__ = [
    "DEFAULT_ORIGIN",
    "EMPTY_ROOT",
    "OPENAPI",
    "SEALED_MEDIA_TYPE",
    "Accepted",
    "Answer",
    "BytesDisk",
    "Checkpoint",
    "CoordinatorClient",
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
    "fetch_publications",
    "http_status",
    "import_path",
    "import_remote",
    "leaf_hash",
    "log_folder",
    "log_keys",
    "make_receipt",
    "node_hash",
    "open_note",
    "open_sealed",
    "read_rounds",
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
