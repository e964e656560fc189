"""The coordinator's inbox: one door for HTTP and file drop, nothing lost, nothing twice.

Every submission goes through :meth:`Inbox.accept`: open (if sealed) → verify against the
registry (the same checks and reason codes as ``vanfed verify``) → refuse replays of older
revisions → write the envelope atomically and durably → append it to the transparency log
(fsync) → sign a checkpoint → answer with a signed receipt. Acceptance is idempotent by the
envelope's SHA-256: a repeat gets the very same receipt bytes.

Layout: see :class:`vanfed.schema.InboxLayout` (envelopes by digest, what ``vanfed merge``
reads, and the transparency log under ``.vanfed/log/``). On start the inbox and the log are checked
against each other; an envelope written but not yet logged when the process died is logged
now (or set aside in ``.vanfed/rejected/`` if it no longer verifies).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vanfed._json import atomic_write, loads_strict, read_limited
from vanfed.aggregate import Refusal, check_history, check_summary, check_window
from vanfed.errors import LogError, ReasonCode, VerificationError
from vanfed.schema import (
    RESULT_TYPE,
    SUMMARY_TYPE,
    Codebook,
    InboxLayout,
    LogProof,
    Receipt,
    RoundResult,
    Summary,
    TrustRegistry,
    load_codebook,
)
from vanfed.signing import (
    PROFILES,
    EncryptionKeyPair,
    Envelope,
    KeyPair,
    envelope_digest,
    parse_payload,
    sign_envelope,
    statement_digest,
    timestamp,
)
from vanfed.tlog import DEFAULT_ORIGIN, LogEntry, TransparencyLog, make_receipt
from vanfed.transport._intake import Rejected, unavailable, verified
from vanfed.transport._registry_file import RegistryFile
from vanfed.transport._rounds import RoundDoor, RoundItem, round_status

__all__ = ["Accepted", "Inbox", "Rejected"]

log = logging.getLogger("vanfed.inbox")


@dataclass(frozen=True)
class Accepted:
    digest: str
    receipt: bytes
    new: bool  # False: a repeat of an earlier submission (same receipt)
    index: int


@dataclass(frozen=True)
class _Known:
    """What the log holds at one digest: a summary, or a part of a secure round (then
    ``round_id`` is set; a contribution has its country and the revision its round names)."""

    country: str | None
    period: str
    revision: int
    round_id: str | None = None
    kind: str = "summary"

    @property
    def is_summary(self) -> bool:
        return self.kind == "summary"


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
        log_write: how the log writes (tests inject a full disk); ``os.write`` by default.
        registry_file: the registry's file: a newer version put there is loaded without a
            restart once it verifies as a successor of ``registry``.

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
        now: Callable[[], dt.datetime] | None = None,
        log_write: Callable[[int, bytes], int] | None = None,
        registry_file: str | Path | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.layout = InboxLayout(self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.registry = registry
        self._registry_file = RegistryFile(registry_file, registry) if registry_file else None
        self.coordinator = coordinator
        self.encryption_keys = encryption_keys or []
        self.clock: Callable[[], dt.datetime] = now or (lambda: dt.datetime.now(dt.UTC))
        self.log = TransparencyLog(
            self.layout.log,
            origin=origin,
            signer=log_key,
            public=log_key.public.raw,
            write=log_write or os.write,
        )
        self._lock = threading.Lock()
        self._known: dict[str, _Known] = {}
        self._summaries: dict[str, Summary] = {}  # parsed on first need, by digest
        self.codebook: Codebook = load_codebook()
        self._current: dict[tuple[str, str], str] = {}  # (country, period) -> digest
        self._by_statement: dict[str, str] = {}  # SHA-256 of the PAE -> envelope digest
        self._cp_by_size = {cp.size: note for cp, note in self.log.checkpoints}
        self.rounds = RoundDoor(self.codebook)
        try:
            self._recover()
        except BaseException:
            self.log.close()
            raise

    # -- start-up ------------------------------------------------------------------------

    def path_of(self, digest: str) -> Path:
        return self.layout.find(digest)

    def _recover(self) -> None:
        limit = self.registry.policy.max_envelope_bytes
        for tmp in self.layout.leftovers():  # half-written by a process that was killed
            tmp.unlink(missing_ok=True)
        for entry in self.log.entries:
            path = self.path_of(entry.digest)
            if not path.exists():
                raise LogError(
                    f"{self.folder}: log entry {entry.index} ({entry.digest[:19]}…) has no "
                    f"envelope {path.name} in the inbox",
                    (ReasonCode.LOG_ENTRY_MISSING,),
                )
            data = read_limited(path, limit)
            if envelope_digest(data) != entry.digest:
                raise LogError(
                    f"{path}: altered after it was logged as entry {entry.index}",
                    (ReasonCode.LOG_ENTRY_ALTERED,),
                )
            self._remember(entry.digest, data, entry.index)
        logged = set(self.log.by_digest)
        orphans = [p for p in self.layout.envelopes() if self.layout.digest_of(p) not in logged]
        for path in orphans:  # written, then the process died before the log append
            data = read_limited(path, limit)
            try:
                accepted = self.accept(data)
                if accepted.digest != self.layout.digest_of(path):  # stored re-encoded
                    path.unlink()
                log.info("recovered %s into the log", path.name)
            except VerificationError as exc:
                aside = self.layout.rejected / path.name
                aside.parent.mkdir(parents=True, exist_ok=True)
                path.replace(aside)
                log.warning("set aside %s: %s", path.name, exc)
        if self.log.tree.size and self.log.tree.size not in self._cp_by_size:
            try:
                self._cp_by_size[self.log.tree.size] = self.log.checkpoint()
            except LogError as exc:  # serve anyway: receipts wait for a writable disk
                log.warning("%s", exc)

    def _remember(self, digest: str, envelope: bytes, index: int) -> None:
        """Note a logged envelope: its digest's summary facts, or its round's progress."""
        self._by_statement[statement_digest(envelope)] = digest
        env = Envelope.from_bytes(envelope)
        if env.payload_type != SUMMARY_TYPE:
            item: RoundItem = parse_payload(env.payload, PROFILES[env.payload_type].model)
            self.rounds.record(item, digest, index)
            country, revision, kind = self.rounds.facts(item)
            self._known[digest] = _Known(country, item.period, revision, item.round_id, kind)
            return
        obj = loads_strict(env.payload, subject="summary")
        k = _Known(obj["country"], obj["period"], int(obj["revision"]))
        self._known[digest] = k
        key = (obj["country"], k.period)
        cur = self._current.get(key)
        if cur is None or self._known[cur].revision < k.revision:
            self._current[key] = digest

    # -- the door ------------------------------------------------------------------------

    def accept(self, data: bytes) -> Accepted:
        """Accept one submission (DSSE envelope or sealed blob) or raise :class:`Rejected`.

        The steps: open → verify (signature, authority, payload) → canonical form → under
        the lock: a repeat gets its receipt; the summary is checked against what the inbox
        already holds (:meth:`_check_history`, then the door's re-audit :meth:`_door`) →
        written and logged durably → receipted.
        Nothing is receipted that is not durable: a full disk is ``storage_unavailable``.
        """
        now = self.clock()
        self.follow_registry(now)
        envelope, item = verified(data, self.registry, self.encryption_keys, now)
        digest = envelope_digest(envelope)
        with self._lock:
            repeat = self._repeat(digest, statement_digest(envelope))
            if repeat is not None:
                return repeat
            if isinstance(item, Summary):
                self._check_history(item, digest)
                self._door(item, digest)
            else:
                why = self.rounds.refusal(item, digest, self.registry, now, self._current_of)
                if why is not None:
                    raise Rejected(why[1], (why[0],), digest)
            entry = self._store(envelope, digest, now)
            known = self._known[digest]
            receipt = self._receipt_orunavailable(entry) if known.country else b""
            self.rounds.close_due(now, self._close_with)
        log.info(
            "accepted %s %s %s as entry %d (%s)",
            known.kind,
            known.country or "coordinator",
            known.period,
            entry.index,
            digest[:19],
        )
        return Accepted(digest, receipt, True, entry.index)

    def _current_of(self, country: str, period: str) -> str | None:
        """The digest of the country's current summary of the period in this inbox."""
        return self._current.get((country, period))

    def _close_with(self, result: RoundResult, now: dt.datetime) -> str:
        """Sign a round's result with the coordinator key and log it (under the lock)."""
        data = sign_envelope(result.canonical_bytes(), RESULT_TYPE, [self.coordinator]).to_bytes()
        digest = envelope_digest(data)
        self._store(data, digest, now)
        try:  # a checkpoint covers the result, so a report can be built on it at once
            self._cp_by_size[self.log.tree.size] = self.log.checkpoint()
        except LogError as exc:  # as at start-up: the next receipt writes one
            log.warning("%s", exc)
        log.info("round %s %s (%s)", result.round_id[:12], result.status, digest[:19])
        return digest

    def close_round(self, round_id: str) -> str:
        """Abort an open round now (its missing participants will not come); the result's
        digest.

        Raises:
            Rejected: ``round_unknown`` or ``round_closed``.
        """
        now = self.clock()
        with self._lock:
            why = self.rounds.abort(round_id, now, self._close_with)
        if isinstance(why, tuple):
            raise Rejected(why[1], (why[0],))
        return why

    def round_status(self) -> list[dict[str, Any]]:
        """Every round of the log (closing those whose time has come first)."""
        now = self.clock()
        with self._lock:
            self.rounds.close_due(now, self._close_with)
            return round_status(self.rounds, now)

    def round_envelope(self, round_id: str, part: str) -> bytes | None:
        """The logged ``announcement`` or ``result`` envelope of a round, or None."""
        with self._lock:
            digest = self.rounds.digest_of(round_id, part)
        if digest is None:
            return None
        return read_limited(self.path_of(digest), self.registry.policy.max_envelope_bytes)

    def _door(self, summary: Summary, digest: str) -> None:
        """The summary's own checks, then its country's logged history with it."""
        try:
            check_summary(summary, self.codebook, self.registry.policy)
            history = self._history(summary.country)
            check_window(summary, history, self.registry.policy.revisions)
            check_history(summary, history, self.codebook)
        except Refusal as exc:
            raise Rejected(exc.message, (exc.reason,), digest) from None

    def _history(self, country: str) -> list[Summary]:
        """The country's logged summaries, in log order (parsed once, then cached)."""
        out = []
        for entry in self.log.entries:
            known = self._known[entry.digest]
            if known.country != country or not known.is_summary:
                continue
            summary = self._summaries.get(entry.digest)
            if summary is None:
                data = read_limited(
                    self.path_of(entry.digest), self.registry.policy.max_envelope_bytes
                )
                summary = parse_payload(Envelope.from_bytes(data).payload, Summary)
                self._summaries[entry.digest] = summary
            out.append(summary)
        return out

    def _repeat(self, digest: str, statement: str) -> Accepted | None:
        """The earlier acceptance of the same signed statement, if any (idempotency)."""
        digest = self._by_statement.get(statement, digest)
        if digest not in self.log.by_digest:
            return None
        entry = self.log.entries[self.log.by_digest[digest]]
        receipt = self._receipt_orunavailable(entry) if self._known[digest].country else b""
        return Accepted(digest, receipt, False, entry.index)

    def _check_history(self, summary: Summary, digest: str) -> None:
        """Refuse a summary that does not follow what this inbox already accepted."""
        current = self._current.get((summary.country, summary.period))
        if current is None:
            return
        rev = self._known[current].revision
        if summary.revision < rev:
            raise Rejected(
                f"{summary.country} {summary.period}: revision {summary.revision} is "
                f"older than the accepted revision {rev}",
                (ReasonCode.SUPERSEDED,),
                digest,
            )
        if summary.revision == rev:
            raise Rejected(
                f"{summary.country} {summary.period}: revision {rev} was already "
                "accepted with different content; send a new revision",
                (ReasonCode.CONFLICTING_REVISION,),
                digest,
            )

    def _store(self, envelope: bytes, digest: str, now: dt.datetime) -> LogEntry:
        """Write the envelope, then append it to the log, both durably (or neither)."""
        part = Envelope.from_bytes(envelope).payload_type != SUMMARY_TYPE
        path = self.layout.envelope(digest, round_part=part)
        try:
            atomic_write(path, envelope)
        except OSError as exc:
            raise unavailable(f"{path}: {exc.strerror or exc}", digest) from exc
        try:
            entry = self.log.append(envelope, int(now.timestamp()))
        except LogError as exc:
            path.unlink(missing_ok=True)  # not logged: as if it never arrived
            raise unavailable(str(exc), digest) from exc
        self._remember(digest, envelope, entry.index)
        return entry

    def _receipt_orunavailable(self, entry: LogEntry) -> bytes:
        try:
            return self.receipt(entry)
        except LogError as exc:
            raise unavailable(str(exc), entry.digest) from exc

    def follow_registry(self, now: dt.datetime) -> TrustRegistry:
        """Load a newer registry put in place of the registry file (verified as a successor
        of the one in force); the one in force otherwise."""
        if self._registry_file is not None:
            self.registry = self._registry_file.poll(now)
        return self.registry

    # -- receipts and reads ----------------------------------------------------------------

    def receipt(self, entry: LogEntry) -> bytes:
        """The receipt of a logged entry; the same bytes every time (deterministic Ed25519).

        Raises:
            LogError: ``log_unwritable``: no checkpoint covers the entry and none can be
                written now.
        """
        if not any(s > entry.index for s in self._cp_by_size):
            self._cp_by_size[self.log.tree.size] = self.log.checkpoint()
        size = min(s for s in self._cp_by_size if s > entry.index)
        known = self._known[entry.digest]
        assert known.country is not None  # the coordinator's own statements get none
        receipt = Receipt(
            envelope_sha256=entry.digest,
            country=known.country,
            period=known.period,
            revision=known.revision,
            round_id=known.round_id,
            received_at=timestamp(dt.datetime.fromtimestamp(entry.received_at, dt.UTC)),
            sequence=entry.index,
            registry_version=self.registry.version,
            registry_digest=self.registry.digest,
            log=LogProof(
                index=entry.index,
                checkpoint=self._cp_by_size[size].decode(),
                inclusion=tuple(h.hex() for h in self.log.tree.inclusion_proof(entry.index, size)),
            ),
        )
        return make_receipt(receipt, self.coordinator)

    def envelope_of(self, digest: str) -> bytes | None:
        """The bytes of a logged summary or round statement (public: they are in the log),
        or None. A masked contribution is not handed out: it is for auditors, who hold the
        inbox, and should a node's agreement key ever leak, whoever holds its masked
        vectors could unmask them."""
        with self._lock:
            known = self._known.get(digest)
            if digest not in self.log.by_digest or known is None or known.kind == "contribution":
                return None
        return read_limited(self.path_of(digest), self.registry.policy.max_envelope_bytes)

    def receipt_for(self, digest: str) -> bytes | None:
        """The receipt of a logged envelope, or None if it is not in the log.

        Raises:
            Rejected: ``storage_unavailable``: logged, but no checkpoint can be written yet.
        """
        with self._lock:
            i = self.log.by_digest.get(digest)
            if i is None or self._known[digest].country is None:
                return None  # the coordinator's own statements have no receipt
            return self._receipt_orunavailable(self.log.entries[i])

    def accepted(self, period: str | None = None) -> list[dict[str, Any]]:
        """Every logged summary (optionally of one period), with whether it is current.
        (The secure rounds' envelopes are listed by :meth:`round_status`.)"""
        with self._lock:
            out = []
            for e in self.log.entries:
                k = self._known[e.digest]
                if not k.is_summary or (period is not None and k.period != period):
                    continue
                out.append(
                    {
                        "index": e.index,
                        "digest": e.digest,
                        "country": k.country,
                        "period": k.period,
                        "revision": k.revision,
                        "current": self._current[(str(k.country), k.period)] == e.digest,
                        "received_at": timestamp(dt.datetime.fromtimestamp(e.received_at, dt.UTC)),
                    }
                )
            return out

    # -- the log, read under the same lock as accept ------------------------------------------

    @property
    def max_body(self) -> int:
        """The largest request body worth reading (an envelope, sealed or not)."""
        return self.registry.policy.max_envelope_bytes + 4096

    def status(self) -> dict[str, Any]:
        self.follow_registry(self.clock())
        with self._lock:
            return {
                "registry_version": self.registry.version,
                "registry_digest": self.registry.digest,
                "log_size": self.log.tree.size,
                "accepted": len(self.log.entries),
            }

    def checkpoint(self) -> bytes:
        """The latest signed checkpoint (signed now if the log grew since the last)."""
        with self._lock:
            note = self.log.checkpoint()
            self._cp_by_size[self.log.tree.size] = note
            return note

    def inclusion(self, digest: str, size: int | None = -1) -> tuple[int, int, list[bytes]]:
        """(index, size, proof) of a logged envelope at ``size`` (-1: the current size;
        None: a size that could not be read).

        Raises:
            Rejected: ``not_found`` or ``bad_tree_size``.
        """
        with self._lock:
            index = self.log.by_digest.get(digest)
            if index is None:
                raise Rejected(f"{digest[:19]}…: not in the log", (ReasonCode.NOT_FOUND,), digest)
            n = self.log.tree.size
            size = n if size == -1 else size
            if size is None or not index < size <= n:
                raise Rejected(f"size must be in ({index}, {n}]", (ReasonCode.BAD_TREE_SIZE,))
            return index, size, self.log.tree.inclusion_proof(index, size)

    def consistency(
        self, first: int | None, second: int | None = -1
    ) -> tuple[int, int, list[bytes]]:
        """(first, second, proof) that size ``second`` (-1: current) extends ``first``.

        Raises:
            Rejected: ``bad_tree_size``.
        """
        with self._lock:
            n = self.log.tree.size
            second = n if second == -1 else second
            if first is None or second is None or not 0 <= first <= second <= n:
                raise Rejected(f"need 0 <= first <= second <= {n}", (ReasonCode.BAD_TREE_SIZE,))
            return first, second, self.log.tree.consistency_proof(first, second)

    def close(self) -> None:
        self.log.close()
