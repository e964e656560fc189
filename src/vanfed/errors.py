"""The vanfed error tree.

Every failure vanfed reports to a caller is a :class:`VanfedError`; the command line turns
one into a single line and an exit code, never a traceback::

    VanfedError
    ├── InputError                 bad file, bad option, bad mapping (exit 2)
    │   ├── RowError               one input row: file, row, column, reason
    │   └── TooLargeError          something from outside exceeds a size limit
    ├── ProtectionError            a table cannot be protected, or its audit failed (exit 1)
    ├── VerificationError          a signature, key or registry check failed (exit 1)
    │   ├── UntrustedKeyError      unknown, expired, revoked or wrong-country key
    │   ├── RegistryError          registry expired, rolled back or below threshold
    │   └── LogError               a transparency log is corrupt, forked or inconsistent
    ├── AuditError                 a regional report does not replay from its inputs (exit 1)
    └── TransportError             delivery to or from the coordinator failed

Messages start with their subject (a file, an envelope, a table) and say what to do.
"""

from __future__ import annotations

__all__ = [
    "AuditError",
    "InputError",
    "LogError",
    "ProtectionError",
    "RegistryError",
    "RowError",
    "TooLargeError",
    "TransportError",
    "UntrustedKeyError",
    "VanfedError",
    "VerificationError",
]


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


class ProtectionError(VanfedError):
    """A table could not be protected, or the interval-attack audit failed.

    ``reason`` is a stable code (``protection_failed``, ``history_disclosure``, …).
    """

    exit_code = 1

    def __init__(self, message: str, *, reason: str = "protection_failed") -> None:
        super().__init__(message)
        self.reason = reason


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
