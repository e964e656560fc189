"""The vanfed error tree.

Every failure vanfed reports to a caller is a :class:`VanfedError`; the command line turns
one into a single line and an exit code, never a traceback::

    VanfedError
    ├── InputError                 bad file, bad option, bad mapping (exit 2)
    │   ├── RowError               one input row: file, row, column, reason
    │   ├── TooLargeError          something from outside exceeds a size limit
    │   └── DuplicateKeyError      a JSON object names the same key twice
    ├── ProtectionError            a table cannot be protected, or its audit failed (exit 1)
    ├── VerificationError          a signature, key or registry check failed (exit 1)
    │   ├── UntrustedKeyError      unknown, expired, revoked or wrong-country key
    │   ├── RegistryError          registry expired, rolled back or below threshold
    │   └── LogError               a transparency log is corrupt, forked or inconsistent
    ├── AuditError                 a regional report does not replay from its inputs (exit 1)
    └── TransportError             delivery to or from the coordinator failed

Messages start with their subject (a file, an envelope, a table) and say what to do.
Each refusal carries stable codes from :class:`ReasonCode`, the one list of them: they
appear in JSON output, HTTP error bodies and audit verdicts, so their values never change.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "NEXT",
    "AuditError",
    "DuplicateKeyError",
    "InputError",
    "LogError",
    "ProtectionError",
    "ReasonCode",
    "RegistryError",
    "RowError",
    "TooLargeError",
    "TransportError",
    "UntrustedKeyError",
    "VanfedError",
    "VerificationError",
]


NEXT = ". Next: "  # how a refusal's message names its next step (ProtectionError)


class ReasonCode(StrEnum):
    """Every stable reason code vanfed gives for refusing something (a ``str``)."""

    # an envelope's bytes and payload
    MALFORMED_ENVELOPE = "malformed_envelope"
    MALFORMED_PAYLOAD = "malformed_payload"
    DUPLICATE_KEY = "duplicate_key"
    NON_CANONICAL_PAYLOAD = "non_canonical_payload"
    PAYLOAD_TYPE_MISMATCH = "payload_type_mismatch"
    TOO_LARGE = "too_large"
    # its signature and the signer's authority
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_KEY = "unknown_key"
    WRONG_COUNTRY = "wrong_country"
    WRONG_ROLE = "wrong_role"
    KEY_NOT_YET_VALID = "key_not_yet_valid"
    KEY_EXPIRED = "key_expired"
    KEY_REVOKED = "key_revoked"
    POLICY_VIOLATION = "policy_violation"
    # the trust registry
    REGISTRY_EXPIRED = "registry_expired"
    REGISTRY_ROLLBACK = "registry_rollback"
    REGISTRY_MISMATCH = "registry_mismatch"
    UNTRUSTED_ROOT = "untrusted_root"
    THRESHOLD_NOT_MET = "threshold_not_met"
    # sealed (encrypted) submissions
    MALFORMED_SEALED = "malformed_sealed"
    SEAL_BROKEN = "seal_broken"
    UNKNOWN_ENCRYPTION_KEY = "unknown_encryption_key"
    # the coordinator's door (HTTP)
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    REQUEST_TIMEOUT = "request_timeout"
    NOT_FOUND = "not_found"
    SUPERSEDED = "superseded"
    CONFLICTING_REVISION = "conflicting_revision"
    STORAGE_UNAVAILABLE = "storage_unavailable"
    BAD_TREE_SIZE = "bad_tree_size"
    MALFORMED_DIGEST = "malformed_digest"
    MALFORMED_PERIOD = "malformed_period"
    MALFORMED_COUNTRY = "malformed_country"
    REJECTED = "rejected"
    # a summary the coordinator does not count
    TOO_MANY_TABLES = "too_many_tables"
    TABLE_TOO_LARGE = "table_too_large"
    UNKNOWN_CODE = "unknown_code"
    LINKED_MISMATCH = "linked_mismatch"
    NOT_ADDITIVE = "not_additive"
    INFEASIBLE = "infeasible"
    PROTECTION_FAILED = "protection_failed"
    HISTORY_DISCLOSURE = "history_disclosure"
    OUTSIDE_WINDOW = "outside_window"
    PERIOD_NOT_BEGUN = "period_not_begun"
    # the transparency log, its checkpoints and receipts
    MALFORMED_CHECKPOINT = "malformed_checkpoint"
    WRONG_ORIGIN = "wrong_origin"
    UNKNOWN_LOG_KEY = "unknown_log_key"
    STALE_CHECKPOINT = "stale_checkpoint"
    INCLUSION_FAILED = "inclusion_failed"
    NOT_IN_LOG = "not_in_log"
    NOT_LOGGED = "not_logged"
    LOG_CORRUPT = "log_corrupt"
    LOG_FORKED = "log_forked"
    LOG_MISSING = "log_missing"
    LOG_UNWRITABLE = "log_unwritable"
    LOG_READ_ONLY = "log_read_only"
    LOG_MISMATCH = "log_mismatch"
    LOG_INDEX_MISMATCH = "log_index_mismatch"
    LOG_ENTRY_MISSING = "log_entry_missing"
    LOG_ENTRY_ALTERED = "log_entry_altered"
    LOG_CHECKPOINT_INVALID = "log_checkpoint_invalid"
    RECEIPT_INVALID = "receipt_invalid"
    RECEIPT_MISMATCH = "receipt_mismatch"
    # the audit of a regional report
    REPORT_INVALID = "report_invalid"
    INPUT_INVALID = "input_invalid"
    INPUT_DROPPED = "input_dropped"
    MISSING_INPUT = "missing_input"
    SKIPPED_MISMATCH = "skipped_mismatch"
    REPLAY_MISMATCH = "replay_mismatch"
    ARTIFACT_MISSING = "artifact_missing"
    ARTIFACT_MISMATCH = "artifact_mismatch"
    MINE_MISSING = "mine_missing"
    # the inputs of a regional report, and its merge
    MALFORMED = "malformed"
    UNREADABLE = "unreadable"
    OTHER_PERIOD = "other_period"
    TABLE_MISSING = "table_missing"
    LAYOUT_DIFFERS = "layout_differs"
    # the secure regional path: rounds, contributions, results, budgets
    SECURE_NOT_ALLOWED = "secure_not_allowed"
    ROUND_UNKNOWN = "round_unknown"
    ROUND_CLOSED = "round_closed"
    DUPLICATE_ROUND = "duplicate_round"
    NOT_PARTICIPANT = "not_participant"
    AFTER_DEADLINE = "after_deadline"
    WRONG_SHAPE = "wrong_shape"
    CODEBOOK_MISMATCH = "codebook_mismatch"
    ANNOUNCEMENT_MISMATCH = "announcement_mismatch"
    CONFLICTING_CONTRIBUTION = "conflicting_contribution"
    NOISE_BELOW_POLICY = "noise_below_policy"
    BUDGET_EXHAUSTED = "budget_exhausted"
    RECORDS_CHANGED = "records_changed"
    RESULT_MISMATCH = "result_mismatch"
    STALE_ROUND = "stale_round"


class VanfedError(Exception):
    """Root of every error vanfed raises on purpose."""

    exit_code = 2


class InputError(VanfedError):
    """An input file, option or configuration is unusable."""


class RowError(InputError):
    """One row of an export is unusable; carries where and why."""

    def __init__(self, source: str, row: int, column: str, value: str, reason: str) -> None:
        self.source = source
        self.row = row
        self.column = column
        self.value = value
        self.reason = reason
        super().__init__(f"{source} row {row}, column {column!r}: {value!r} {reason}")


class TooLargeError(InputError):
    """Something that came from outside is larger than its limit."""


class DuplicateKeyError(InputError):
    """A JSON object names the same key twice (reason code ``duplicate_key``)."""


class ProtectionError(VanfedError):
    """A table could not be protected, or the interval-attack audit failed.

    ``reason`` is a stable code (``protection_failed``, ``history_disclosure``, …);
    ``next_step``, when known, what would make the publication possible (it ends the
    message).
    """

    exit_code = 1
    next_step: str | None = None

    def __init__(self, message: str, *, reason: str = ReasonCode.PROTECTION_FAILED) -> None:
        super().__init__(message)
        self.reason = reason

    def add_next_step(self, step: str) -> None:
        """Name the next safe step (appended to the message as ``… Next: step``)."""
        self.next_step = step
        self.args = (f"{self.args[0]}{NEXT}{step}",)


class VerificationError(VanfedError):
    """A signature, key, registry or payload check failed.

    ``reasons`` holds the stable reason codes (e.g. ``bad_signature``).
    """

    exit_code = 1

    def __init__(self, message: str, reasons: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.reasons = reasons


class UntrustedKeyError(VerificationError):
    """The signing key is unknown, expired, revoked or not allowed for this country."""


class RegistryError(VerificationError):
    """The trust registry is expired, rolled back or not signed by enough roots."""


class LogError(VerificationError):
    """A transparency log is corrupt, or two of its checkpoints are inconsistent."""


class AuditError(VanfedError):
    """A regional report does not replay byte for byte from its signed inputs."""

    exit_code = 1


class TransportError(VanfedError):
    """Delivery to or from the coordinator failed."""

    exit_code = 1
