"""The coordinator's transparency log: durable, append-only, crash-safe.

Stored in one folder:

``entries``
    fixed 72-byte records: leaf hash (SHA-256(0x00 ‖ envelope)), envelope SHA-256 and the
    time received (seconds since the epoch, big-endian) — appended and fsynced before any
    receipt names them;
``checkpoints``
    every checkpoint the log ever signed, each as a 4-byte length and the signed note.

Opening the log rebuilds the Merkle tree and checks it against every checkpoint it issued;
a torn record at the very end (a crash during an append, never acknowledged) is cut off, and
anything else that does not match is refused with the place where it differs.

Every write is whole or undone: a short write is continued, and a write or fsync that fails
(a full disk) truncates the file back to its last good length and raises
:class:`~vanfed.errors.LogError` ``log_unwritable``, so nothing half-written is ever
appended after, and the caller issues no receipt. The next write tries again.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import logging
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vanfed.errors import LogError, ReasonCode, VerificationError
from vanfed.signing import Signer
from vanfed.tlog._merkle import MerkleTree, leaf_hash, verify_consistency
from vanfed.tlog._note import Checkpoint, sign_note, verified_checkpoint

__all__ = ["DEFAULT_ORIGIN", "LogEntry", "TransparencyLog"]

DEFAULT_ORIGIN = "armac.vanfed/log"

log = logging.getLogger("vanfed.log")
RECORD = struct.Struct(">32s32sq")
LENGTH = struct.Struct(">I")


@dataclass(frozen=True)
class LogEntry:
    index: int
    leaf: bytes
    digest: str  # sha256:<hex> of the envelope
    received_at: int


def _unwritable(path: Path, exc: OSError) -> LogError:
    return LogError(
        f"{path}: cannot write ({exc.strerror or exc}); nothing was appended — free space "
        "and try again",
        (ReasonCode.LOG_UNWRITABLE,),
    )


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class TransparencyLog:
    """An append-only Merkle log of envelopes, with signed checkpoints.

    Args:
        folder: where ``entries`` and ``checkpoints`` live (created if missing).
        origin: the log's name in its checkpoints, e.g. ``armac.example/vanfed``.
        signer: the log key (its public half must be in the trust registry, role ``log``).
        public: the raw public key of ``signer``.
        key_name: the key name in checkpoint signature lines.
        write: ``os.write`` (tests inject one that writes short or fails like a full disk).
        fsync: ``os.fsync``.

    Raises:
        LogError: the stored log is corrupt; the message says where.
    """

    def __init__(
        self,
        folder: str | Path,
        *,
        origin: str | None,
        signer: Signer | None,
        public: bytes | None = None,
        key_name: str | None = None,
        verify_keys: list[bytes] | None = None,
        write: Callable[[int, bytes], int] = os.write,
        fsync: Callable[[int], None] = os.fsync,
    ) -> None:
        self.folder = Path(folder)
        self._write = write
        self._fsync = fsync
        self.read_only = signer is None
        self.origin = origin
        self._signer = signer
        self._public = public or b""
        self._name = key_name or origin or ""
        self._verify_keys = verify_keys if verify_keys is not None else [self._public]
        self.tree = MerkleTree()
        self.entries: list[LogEntry] = []
        self.by_digest: dict[str, int] = {}
        self.checkpoints: list[tuple[Checkpoint, bytes]] = []
        if self.read_only:
            if not self.folder.is_dir():
                raise LogError(
                    f"{self.folder}: no transparency log here", (ReasonCode.LOG_MISSING,)
                )
            self._load()
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.folder / "lock", "a+b")  # noqa: SIM115 - held while open
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            self._lock.close()
            raise LogError(f"{self.folder}: the log is open in another process") from exc
        try:
            self._load()
        except BaseException:
            self._lock.close()
            raise
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        self._entries_fd = os.open(self.folder / "entries", flags, 0o644)
        self._cp_fd = os.open(self.folder / "checkpoints", flags, 0o644)
        self._good = {
            self._entries_fd: RECORD.size * self.tree.size,
            self._cp_fd: sum(LENGTH.size + len(note) for _, note in self.checkpoints),
        }
        self._durable = self._good[self._entries_fd]  # entries bytes known to be fsynced
        _fsync_dir(self.folder)

    @classmethod
    def read(cls, folder: str | Path, log_keys: list[bytes]) -> TransparencyLog:
        """A read-only view (auditors): checked against every stored checkpoint, which
        must be signed by one of ``log_keys``; nothing is repaired or written."""
        return cls(folder, origin=None, signer=None, verify_keys=log_keys)

    # -- loading -------------------------------------------------------------------------

    def _load(self) -> None:
        cps = self._read_checkpoints()
        signed_size = max((c.size for c, _ in cps), default=0)
        path = self.folder / "entries"
        data = path.read_bytes() if path.exists() else b""
        whole = len(data) - len(data) % RECORD.size
        if whole != len(data):
            if whole // RECORD.size < signed_size:
                raise LogError(
                    f"{path}: torn record at byte {whole} inside the signed part of the log "
                    f"(checkpoint at size {signed_size})",
                    (ReasonCode.LOG_CORRUPT,),
                )
            log.warning("%s: torn record at byte %d (crash during an append)", path, whole)
            if self.read_only:
                data = data[:whole]
            else:
                self._truncate(path, whole)
        for i in range(whole // RECORD.size):
            leaf, digest, received = RECORD.unpack_from(data, i * RECORD.size)
            hexd = "sha256:" + digest.hex()
            if hexd in self.by_digest:
                raise LogError(
                    f"{path}: entry {i} repeats entry {self.by_digest[hexd]} ({hexd[:19]}…)",
                    (ReasonCode.LOG_CORRUPT,),
                )
            self.by_digest[hexd] = i
            self.entries.append(LogEntry(i, leaf, hexd, received))
            self.tree.append(leaf)
        if self.tree.size < signed_size:
            raise LogError(
                f"{path}: truncated: {self.tree.size} entries, but a checkpoint was signed "
                f"at size {signed_size}",
                (ReasonCode.LOG_CORRUPT,),
            )
        good = 0
        for n, (cp, _) in enumerate(cps):
            if self.tree.root(cp.size) != cp.root:
                where = (
                    f"entries {good}..{cp.size - 1}" if good < cp.size else f"entry {cp.size - 1}"
                )
                raise LogError(
                    f"{path}: the entries differ from checkpoint {n} (size {cp.size}) the log "
                    f"signed; the corruption lies in {where}",
                    (ReasonCode.LOG_CORRUPT,),
                )
            good = max(good, cp.size)
        self.checkpoints = cps

    def _read_checkpoints(self) -> list[tuple[Checkpoint, bytes]]:
        path = self.folder / "checkpoints"
        data = path.read_bytes() if path.exists() else b""
        out: list[tuple[Checkpoint, bytes]] = []
        pos = 0
        while pos < len(data):
            if pos + LENGTH.size > len(data):
                break
            (n,) = LENGTH.unpack_from(data, pos)
            if pos + LENGTH.size + n > len(data):
                break
            note = data[pos + LENGTH.size : pos + LENGTH.size + n]
            try:
                cp, _ = verified_checkpoint(note, self._verify_keys, origin=self.origin)
            except VerificationError as exc:
                raise LogError(
                    f"{path}: checkpoint {len(out)} at byte {pos}: {exc}", (ReasonCode.LOG_CORRUPT,)
                ) from exc
            if out and cp.size < out[-1][0].size:
                raise LogError(
                    f"{path}: checkpoint {len(out)} (size {cp.size}) is smaller than the one "
                    f"before it (size {out[-1][0].size})",
                    (ReasonCode.LOG_CORRUPT,),
                )
            out.append((cp, note))
            pos += LENGTH.size + n
        if pos != len(data):
            log.warning("%s: torn checkpoint at byte %d (crash while signing)", path, pos)
            if not self.read_only:
                self._truncate(path, pos)
        return out

    @staticmethod
    def _truncate(path: Path, size: int) -> None:
        with open(path, "r+b") as fh:
            fh.truncate(size)
            os.fsync(fh.fileno())

    # -- writing -------------------------------------------------------------------------

    def append(self, envelope: bytes, received_at: int, *, sync: bool = True) -> LogEntry:
        """Append an envelope; durable on return when ``sync`` (else call :meth:`sync`)."""
        self._writable()
        digest = hashlib.sha256(envelope).digest()
        hexd = "sha256:" + digest.hex()
        if hexd in self.by_digest:
            return self.entries[self.by_digest[hexd]]
        leaf = leaf_hash(envelope)
        self._write_whole(self._entries_fd, RECORD.pack(leaf, digest, received_at), sync=sync)
        index = self.tree.append(leaf)
        entry = LogEntry(index, leaf, hexd, received_at)
        self.entries.append(entry)
        self.by_digest[hexd] = index
        return entry

    def sync(self) -> None:
        """Make every append durable (after ``append(..., sync=False)``).

        Raises:
            LogError: ``log_unwritable``; the unsynced entries are dropped from the log.
        """
        try:
            self._fsync(self._entries_fd)
        except OSError as exc:
            self._rollback(self._entries_fd, self._durable)
            self._good[self._entries_fd] = self._durable
            self._forget_after(self._durable // RECORD.size)
            raise _unwritable(self.folder / "entries", exc) from exc
        self._durable = self._good[self._entries_fd]

    def _forget_after(self, size: int) -> None:
        for entry in self.entries[size:]:
            del self.by_digest[entry.digest]
        del self.entries[size:]
        self.tree = MerkleTree()
        for entry in self.entries:
            self.tree.append(entry.leaf)

    def _write_whole(self, fd: int, data: bytes, *, sync: bool = True) -> None:
        """Write all of ``data`` at the end of ``fd`` (and fsync), or undo and raise."""
        good = self._good[fd]
        path = self.folder / ("entries" if fd == self._entries_fd else "checkpoints")
        try:
            if os.fstat(fd).st_size != good:  # a failed write left bytes behind
                os.ftruncate(fd, good)
            view = memoryview(data)
            while view:
                n = self._write(fd, view.tobytes())
                if n <= 0:
                    raise OSError(errno.ENOSPC, "no progress writing (disk full?)")
                view = view[n:]
            if sync:
                self._fsync(fd)
        except OSError as exc:
            self._rollback(fd, good)
            raise _unwritable(path, exc) from exc
        self._good[fd] = good + len(data)
        if sync and fd == self._entries_fd:
            self._durable = self._good[fd]

    def _rollback(self, fd: int, good: int) -> None:
        try:
            os.ftruncate(fd, good)
            self._fsync(fd)
        except OSError:  # the next write truncates again before it appends
            log.exception("%s: could not truncate back to %d bytes", self.folder, good)

    def checkpoint(self) -> bytes:
        """The signed checkpoint of the current tree (signed anew only when it grew)."""
        if self.checkpoints and self.checkpoints[-1][0].size == self.tree.size:
            return self.checkpoints[-1][1]
        self._writable()
        assert self._signer is not None and self.origin is not None
        if self.checkpoints and self.checkpoints[-1][0].size == self.tree.size:
            return self.checkpoints[-1][1]
        cp = Checkpoint(self.origin, self.tree.size, self.tree.root())
        if self.checkpoints:  # never sign two inconsistent checkpoints
            last = self.checkpoints[-1][0]
            proof = self.tree.consistency_proof(last.size)
            if not verify_consistency(last.size, cp.size, last.root, cp.root, proof):
                raise LogError(
                    "log: refusing to sign a checkpoint inconsistent with the last",
                    (ReasonCode.LOG_FORKED,),
                )
        note = sign_note(cp.text(), self._name, self._signer, self._public)
        self._write_whole(self._cp_fd, LENGTH.pack(len(note)) + note)
        self.checkpoints.append((cp, note))
        return note

    def _writable(self) -> None:
        if self.read_only:
            raise LogError(f"{self.folder}: opened read-only", (ReasonCode.LOG_READ_ONLY,))

    def close(self) -> None:
        if self.read_only:
            return
        for fd in (self._entries_fd, self._cp_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._lock.close()

    def __enter__(self) -> TransparencyLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
