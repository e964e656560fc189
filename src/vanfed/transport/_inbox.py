"""The coordinator's inbox: one door for HTTP and file drop, nothing lost, nothing twice.

Every submission goes through :meth:`Inbox.accept`: open (if sealed) → verify against the
registry (the same checks and reason codes as ``vanfed verify``) → refuse replays of older
revisions → write the envelope atomically and durably → append it to the transparency log
(fsync) → sign a checkpoint → answer with a signed receipt. Acceptance is idempotent by the
envelope's SHA-256: a repeat gets the very same receipt bytes.

Layout: ``INBOX/<sha256-hex>.dsse.json`` (what ``vanfed merge`` reads) and
``INBOX/.vanfed/log/`` (the transparency log). On start the inbox and the log are checked
against each other; an envelope written but not yet logged when the process died is logged
now (or set aside in ``.vanfed/rejected/`` if it no longer verifies).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vanfed._json import atomic_write, loads_strict, read_limited
from vanfed.errors import LogError, VerificationError
from vanfed.schema import LogProof, Receipt, Summary, TrustRegistry
from vanfed.signing import (
    KEY_REASONS,
    EncryptionKeyPair,
    Envelope,
    KeyPair,
    VerificationResult,
    envelope_digest,
    timestamp,
    verification_result,
)
from vanfed.transport._hpke import is_sealed, open_sealed
from vanfed.transport._log import DEFAULT_ORIGIN, LogEntry, TransparencyLog, log_folder
from vanfed.transport._receipts import make_receipt

__all__ = ["Accepted", "Inbox", "Rejected", "http_status"]

log = logging.getLogger("vanfed.inbox")

_STATUS = {
    "too_large": 413,
    "unsupported_media_type": 415,
    "request_timeout": 408,
    "superseded": 409,
    "conflicting_revision": 409,
    "policy_violation": 422,
    "registry_expired": 503,
}
_AUTHORITY = KEY_REASONS | {"bad_signature"}


def http_status(code: str) -> int:
    """The HTTP status of a rejection reason code."""
    return _STATUS.get(code, 403 if code in _AUTHORITY else 400)


class Rejected(VerificationError):
    """A submission the coordinator refuses; ``reasons`` are stable codes."""

    def __init__(self, message: str, reasons: tuple[str, ...], digest: str | None = None) -> None:
        super().__init__(message, reasons)
        self.digest = digest

    @property
    def status(self) -> int:
        return http_status(self.reasons[0]) if self.reasons else 400

    def to_json_obj(self) -> dict[str, Any]:
        return {
            "error": self.reasons[0] if self.reasons else "rejected",
            "reasons": list(self.reasons),
            "message": str(self),
            "digest": self.digest,
        }


@dataclass(frozen=True)
class Accepted:
    digest: str
    receipt: bytes
    new: bool  # False: a repeat of an earlier submission (same receipt)
    index: int


@dataclass(frozen=True)
class _Known:
    country: str
    period: str
    revision: int


class Inbox:
    """The coordinator's durable, logged inbox.

    Args:
        folder: the inbox folder (``vanfed merge`` reads it).
        registry: the verified trust registry in force.
        coordinator: signs receipts (role ``coordinator`` in the registry).
        log_key: signs log checkpoints (role ``log``).
        origin: the log origin line of checkpoints.
        encryption_keys: X25519 keys for sealed submissions.
        now: clock (tests pass a fixed one).

    Raises:
        LogError: the log and the inbox disagree (missing or altered envelopes, a corrupt log).
    """

    def __init__(
        self,
        folder: str | Path,
        registry: TrustRegistry,
        *,
        coordinator: KeyPair,
        log_key: KeyPair,
        origin: str = DEFAULT_ORIGIN,
        encryption_keys: list[EncryptionKeyPair] | None = None,
        now: Any = None,
    ) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.registry = registry
        self.coordinator = coordinator
        self.encryption_keys = encryption_keys or []
        self.clock = now or (lambda: dt.datetime.now(dt.UTC))
        self.log = TransparencyLog(
            log_folder(self.folder),
            origin=origin,
            signer=log_key,
            public=log_key.public.raw,
        )
        self._lock = threading.Lock()
        self._known: dict[str, _Known] = {}
        self._current: dict[tuple[str, str], str] = {}  # (country, period) -> digest
        self._cp_by_size = {cp.size: note for cp, note in self.log.checkpoints}
        try:
            self._recover()
        except BaseException:
            self.log.close()
            raise

    # -- start-up ------------------------------------------------------------------------

    def path_of(self, digest: str) -> Path:
        return self.folder / f"{digest.removeprefix('sha256:')}.dsse.json"

    def _recover(self) -> None:
        limit = self.registry.policy.max_envelope_bytes
        for tmp in self.folder.glob(".*.tmp"):  # half-written by a process that was killed
            tmp.unlink(missing_ok=True)
        for entry in self.log.entries:
            path = self.path_of(entry.digest)
            if not path.exists():
                raise LogError(
                    f"{self.folder}: log entry {entry.index} ({entry.digest[:19]}…) has no "
                    f"envelope {path.name} in the inbox",
                    ("log_entry_missing",),
                )
            data = read_limited(path, limit)
            if envelope_digest(data) != entry.digest:
                raise LogError(
                    f"{path}: altered after it was logged as entry {entry.index}",
                    ("log_entry_altered",),
                )
            self._remember(entry.digest, Envelope.from_bytes(data).payload)
        logged = set(self.log.by_digest)
        orphans = sorted(
            p
            for p in self.folder.glob("*.dsse.json")
            if "sha256:" + p.name.removesuffix(".dsse.json") not in logged
        )
        for path in orphans:  # written, then the process died before the log append
            data = read_limited(path, limit)
            try:
                self.accept(data)
                log.info("recovered %s into the log", path.name)
            except VerificationError as exc:
                aside = self.folder / ".vanfed" / "rejected" / path.name
                aside.parent.mkdir(parents=True, exist_ok=True)
                path.replace(aside)
                log.warning("set aside %s: %s", path.name, exc)
        if self.log.tree.size and self.log.tree.size not in self._cp_by_size:
            note = self.log.checkpoint()
            self._cp_by_size[self.log.tree.size] = note

    def _remember(self, digest: str, payload: bytes) -> None:
        obj = loads_strict(payload, subject="summary")
        k = _Known(obj["country"], obj["period"], int(obj["revision"]))
        self._known[digest] = k
        key = (k.country, k.period)
        cur = self._current.get(key)
        if cur is None or self._known[cur].revision < k.revision:
            self._current[key] = digest

    # -- the door ------------------------------------------------------------------------

    def accept(self, data: bytes) -> Accepted:
        """Accept one submission (DSSE envelope or sealed blob) or raise :class:`Rejected`."""
        now = self.clock()
        sealed_country = None
        if is_sealed(data):
            try:
                sealed_country, data = open_sealed(data, self.encryption_keys)
            except VerificationError as exc:
                raise Rejected(str(exc), exc.reasons) from exc
        digest = envelope_digest(data)
        result: VerificationResult[Summary] = verification_result(data, self.registry, now=now)
        if not result.ok or result.payload is None:
            raise Rejected(
                "; ".join(r.message for r in result.reasons) or "not a valid summary",
                result.codes or ("malformed_envelope",),
                digest,
            )
        summary: Summary = result.payload
        if sealed_country is not None and sealed_country != summary.country:
            raise Rejected(
                f"sealed for {sealed_country}, but the summary is for {summary.country}",
                ("wrong_country",),
                digest,
            )
        with self._lock:
            if digest in self.log.by_digest:
                entry = self.log.entries[self.log.by_digest[digest]]
                return Accepted(digest, self.receipt(entry), False, entry.index)
            key = (summary.country, summary.period)
            current = self._current.get(key)
            if current is not None:
                rev = self._known[current].revision
                if summary.revision < rev:
                    raise Rejected(
                        f"{summary.country} {summary.period}: revision {summary.revision} is "
                        f"older than the accepted revision {rev}",
                        ("superseded",),
                        digest,
                    )
                if summary.revision == rev:
                    raise Rejected(
                        f"{summary.country} {summary.period}: revision {rev} was already "
                        "accepted with different content; send a new revision",
                        ("conflicting_revision",),
                        digest,
                    )
            atomic_write(self.path_of(digest), data)
            entry = self.log.append(data, int(now.timestamp()))
            self._cp_by_size[self.log.tree.size] = self.log.checkpoint()
            self._known[digest] = _Known(summary.country, summary.period, summary.revision)
            self._current[key] = digest
            receipt = self.receipt(entry)
        log.info(
            "accepted %s %s r%d as entry %d (%s)",
            summary.country,
            summary.period,
            summary.revision,
            entry.index,
            digest[:19],
        )
        return Accepted(digest, receipt, True, entry.index)

    # -- receipts and reads ----------------------------------------------------------------

    def receipt(self, entry: LogEntry) -> bytes:
        """The receipt of a logged entry; the same bytes every time (deterministic Ed25519)."""
        size = min(s for s in self._cp_by_size if s > entry.index)
        known = self._known[entry.digest]
        receipt = Receipt(
            envelope_sha256=entry.digest,
            country=known.country,
            period=known.period,
            revision=known.revision,
            received_at=timestamp(dt.datetime.fromtimestamp(entry.received_at, dt.UTC)),
            sequence=entry.index,
            log=LogProof(
                index=entry.index,
                checkpoint=self._cp_by_size[size].decode(),
                inclusion=tuple(h.hex() for h in self.log.tree.inclusion_proof(entry.index, size)),
            ),
        )
        return make_receipt(receipt, self.coordinator)

    def receipt_for(self, digest: str) -> bytes | None:
        with self._lock:
            i = self.log.by_digest.get(digest)
            return None if i is None else self.receipt(self.log.entries[i])

    def accepted(self, period: str | None = None) -> list[dict[str, Any]]:
        """Every logged submission (optionally of one period), with whether it is current."""
        with self._lock:
            out = []
            for e in self.log.entries:
                k = self._known[e.digest]
                if period is not None and k.period != period:
                    continue
                out.append(
                    {
                        "index": e.index,
                        "digest": e.digest,
                        "country": k.country,
                        "period": k.period,
                        "revision": k.revision,
                        "current": self._current[(k.country, k.period)] == e.digest,
                        "received_at": timestamp(dt.datetime.fromtimestamp(e.received_at, dt.UTC)),
                    }
                )
            return out

    def close(self) -> None:
        self.log.close()
