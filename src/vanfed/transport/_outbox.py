"""The node's outbox: store and forward until a verified receipt is held.

A diskcache (SQLite, ``synchronous=FULL``, no eviction) holding **bytes only** — the disk
class refuses to pickle or unpickle anything — keyed by envelope digest:

``env/<digest>``      the envelope bytes, until its receipt is stored
``meta/<digest>``     JSON: destination, attempts, next attempt, last error, state
``receipt/<digest>``  the coordinator's receipt (kept)
``checkpoint``        the newest log checkpoint seen (a signed note)

Delivery retries with exponential backoff and full jitter; an entry leaves the queue only in
the same transaction that stores its verified receipt. A definite refusal (4xx other than
408/429) parks the entry as ``rejected`` with the reason — it is never silently dropped.
Every new checkpoint must be consistent with the newest one kept; a fork is reported loudly.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from random import Random
from typing import Any

import diskcache
import httpx

from vanfed._json import loads_strict
from vanfed.errors import InputError, TransportError, VerificationError
from vanfed.schema import TrustRegistry
from vanfed.signing import Envelope, envelope_digest, timestamp
from vanfed.tlog import Checkpoint, check_consistency, log_keys, verified_checkpoint, verify_receipt
from vanfed.transport._client import Answer, CoordinatorClient
from vanfed.transport._hpke import SEALED_MEDIA_TYPE, seal, sealing_key

__all__ = ["BytesDisk", "Delivery", "Outbox"]

log = logging.getLogger("vanfed.outbox")


class BytesDisk(diskcache.Disk):  # type: ignore[misc]
    """A diskcache Disk for ``str`` keys and ``bytes`` values only: never pickle."""

    def put(self, key: Any) -> Any:
        if type(key) is not str:
            raise TypeError("outbox keys are str")
        return super().put(key)

    def get(self, key: Any, raw: bool) -> Any:
        if not raw:
            raise ValueError("outbox: refusing to unpickle a key")
        return super().get(key, raw)

    def store(self, value: Any, read: bool, key: Any = diskcache.UNKNOWN) -> Any:
        if type(value) is not bytes:
            raise TypeError("outbox values are bytes")
        return super().store(value, read, key=key)

    def fetch(self, mode: int, filename: Any, value: Any, read: bool) -> Any:
        if mode == diskcache.core.MODE_PICKLE:
            raise ValueError("outbox: refusing to unpickle a value")
        return super().fetch(mode, filename, value, read)


@dataclass(frozen=True)
class Delivery:
    digest: str
    state: str  # delivered | queued | rejected
    detail: str = ""
    receipt: bytes | None = None


class Outbox:
    """A durable queue of envelopes to one or more coordinators.

    Args:
        folder: where the SQLite store lives.
        registry: the verified registry (receipts and checkpoints are checked against it).
        clock: time source (tests pass a fixed one).
        max_backoff: the longest wait between two attempts, in seconds.
        ca_cert: a CA bundle (PEM) to trust for an https coordinator, e.g. a self-signed one.
        rng: the source of backoff jitter.
        sleep: how to wait between rounds (tests pass one that advances a fake clock).
        monotonic: the clock of ``max_wait``.
        transport: an httpx transport for every coordinator (e.g. ``httpx.MockTransport``).
    """

    def __init__(
        self,
        folder: str | Path,
        registry: TrustRegistry,
        *,
        clock: Callable[[], dt.datetime] | None = None,
        max_backoff: float = 300.0,
        ca_cert: str | Path | None = None,
        rng: Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.rng = rng or Random()  # noqa: S311 - backoff jitter, not a secret
        self.sleep = sleep
        self.monotonic = monotonic
        self.transport = transport
        self.max_backoff = max_backoff
        self.verify_tls: str | bool = str(ca_cert) if ca_cert else True
        self.registry = registry
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        try:
            self.cache = diskcache.Cache(
                str(self.folder),
                disk=BytesDisk,
                sqlite_synchronous=2,  # FULL: a stored receipt survives power loss
                eviction_policy="none",
                size_limit=2**62,
                disk_min_file_size=2**31,  # every value lives inside SQLite, never a loose file
                timeout=60,
            )
        except sqlite3.Error as exc:
            raise InputError(f"{self.folder}: not a usable outbox ({exc})") from exc

    def close(self) -> None:
        self.cache.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- queue ---------------------------------------------------------------------------

    def _meta(self, digest: str) -> dict[str, Any]:
        raw = self.cache.get(f"meta/{digest}")
        return {} if raw is None else dict(loads_strict(raw, subject="outbox entry"))

    def _set_meta(self, digest: str, meta: dict[str, Any]) -> None:
        self.cache.set(f"meta/{digest}", json.dumps(meta, sort_keys=True).encode())

    def queue(self, envelope: bytes, to: str, *, sealed: bool = False) -> str:
        """Queue an envelope for ``to`` (the coordinator's base URL); idempotent."""
        env = Envelope.from_bytes(envelope, max_bytes=self.registry.policy.max_envelope_bytes)
        country = str(loads_strict(env.payload, subject="summary").get("country", ""))
        digest = envelope_digest(envelope)
        if self.cache.get(f"receipt/{digest}") is not None:
            return digest
        try:
            self._enqueue(digest, envelope, to, sealed, country)
        except sqlite3.Error as exc:
            raise TransportError(f"{self.folder}: cannot queue {digest[:19]}… ({exc})") from exc
        return digest

    def _enqueue(self, digest: str, envelope: bytes, to: str, sealed: bool, country: str) -> None:
        with self.cache.transact():
            self.cache.set(f"env/{digest}", envelope)
            meta = self._meta(digest) or {"attempts": 0, "next_at": 0.0}
            meta.update(
                to=to.rstrip("/"),
                sealed=sealed,
                country=country,
                state="queued",
                queued_at=meta.get("queued_at", timestamp(self.clock())),
            )
            self._set_meta(digest, meta)

    def entries(self) -> list[dict[str, Any]]:
        """Everything the outbox knows: queued, rejected and delivered."""
        out = []
        for key in sorted(k for k in self.cache.iterkeys() if k.startswith("meta/")):
            digest = key.removeprefix("meta/")
            meta = self._meta(digest)
            if self.cache.get(f"receipt/{digest}") is not None:
                meta["state"] = "delivered"
            out.append({"digest": digest, **meta})
        return out

    def pending(self) -> list[str]:
        return [
            k.removeprefix("env/")
            for k in sorted(self.cache.iterkeys())
            if k.startswith("env/") and self._meta(k.removeprefix("env/")).get("state") == "queued"
        ]

    def receipt(self, digest: str) -> bytes | None:
        value = self.cache.get(f"receipt/{digest}")
        return None if value is None else bytes(value)

    # -- delivery ------------------------------------------------------------------------

    def deliver(self, digest: str, client: CoordinatorClient) -> Delivery:
        """One attempt. Stores the receipt (and removes the entry) only once verified."""
        envelope = self.cache.get(f"env/{digest}")
        if envelope is None:
            receipt = self.receipt(digest)
            return Delivery(digest, "delivered" if receipt else "unknown", receipt=receipt)
        meta = self._meta(digest)
        body, media = envelope, "application/json"
        if meta.get("sealed"):
            keyid, public = sealing_key(self.registry)
            body = seal(envelope, country=meta["country"], keyid=keyid, public=public)
            media = SEALED_MEDIA_TYPE
        try:
            answer = client.submit(body, media=media)
        except TransportError as exc:
            return self._retry(digest, meta, str(exc))
        if answer.accepted:
            return self._store(digest, envelope, meta, answer, client)
        detail = answer.error_text()
        if answer.permanent:
            meta.update(state="rejected", last_error=detail)
            self._set_meta(digest, meta)
            log.error("%s rejected by the coordinator: %s", digest[:19], detail)
            return Delivery(digest, "rejected", detail)
        return self._retry(digest, meta, detail)

    def _store(
        self,
        digest: str,
        envelope: bytes,
        meta: dict[str, Any],
        answer: Answer,
        client: CoordinatorClient,
    ) -> Delivery:
        try:
            checked, checkpoint = verify_receipt(
                answer.body, self.registry, envelope=envelope, now=self.clock()
            )
        except VerificationError as exc:
            return self._retry(digest, meta, f"unverifiable receipt: {exc}")
        self._check_log(checkpoint, checked.log.checkpoint.encode(), client)
        try:
            with self.cache.transact():  # the receipt is stored and the entry leaves together
                self.cache.set(f"receipt/{digest}", answer.body)
                self.cache.delete(f"env/{digest}")
                meta.update(state="delivered", delivered_at=timestamp(self.clock()))
                self._set_meta(digest, meta)
        except sqlite3.Error as exc:
            raise TransportError(
                f"{self.folder}: cannot store the receipt of {digest[:19]}… ({exc}); the "
                "entry stays queued — free space and run `vanfed outbox flush`"
            ) from exc
        return Delivery(digest, "delivered", receipt=answer.body)

    def _retry(self, digest: str, meta: dict[str, Any], detail: str) -> Delivery:
        attempts = int(meta.get("attempts", 0)) + 1
        cap = min(self.max_backoff, 0.25 * 2 ** min(attempts, 30))
        delay = self.rng.uniform(0, cap)  # full jitter
        meta.update(attempts=attempts, last_error=detail, next_at=self._now() + delay)
        self._set_meta(digest, meta)
        return Delivery(digest, "queued", detail)

    def _now(self) -> float:
        return self.clock().timestamp()

    def _check_log(self, new: Checkpoint, note: bytes, client: CoordinatorClient) -> None:
        """Keep the newest checkpoint; any newer one must extend it (else: a forked log)."""
        kept = self.cache.get("checkpoint")
        if kept is None:
            self.cache.set("checkpoint", note)
            return
        old, _ = verified_checkpoint(bytes(kept), log_keys(self.registry))
        first, second = sorted((old, new), key=lambda c: c.size)
        proof: list[bytes] = []
        if first.size != second.size:
            try:
                proof = client.consistency(first.size, second.size)
            except TransportError:
                return  # cannot check now; the kept checkpoint stays and is checked next time
        check_consistency(first, second, proof)
        if new.size > old.size:
            self.cache.set("checkpoint", note)

    def flush(
        self,
        *,
        http: httpx.Client | None = None,
        max_wait: float = 300.0,
        on_attempt: Callable[[Delivery], None] | None = None,
    ) -> list[Delivery]:
        """Deliver everything queued, retrying until delivered, refused or ``max_wait``."""
        own = http is None
        http = http or httpx.Client(
            timeout=httpx.Timeout(30.0, connect=5.0),
            verify=self.verify_tls,
            transport=self.transport,
        )
        clients: dict[str, CoordinatorClient] = {}
        deadline = self.monotonic() + max_wait
        results: dict[str, Delivery] = {}
        try:
            while todo := self.pending():
                now = self._now()
                due = [d for d in todo if float(self._meta(d).get("next_at", 0)) <= now]
                for digest in due:
                    url = str(self._meta(digest)["to"])
                    client = clients.setdefault(url, CoordinatorClient(url, http=http))
                    results[digest] = self.deliver(digest, client)
                    if on_attempt:
                        on_attempt(results[digest])
                if self.monotonic() >= deadline:
                    break
                if not due:
                    wake = min(float(self._meta(d).get("next_at", 0)) for d in todo)
                    self.sleep(max(0.01, min(wake - now, deadline - self.monotonic(), 5.0)))
        finally:
            if own:
                http.close()
        return list(results.values())


def deliver_error(deliveries: list[Delivery]) -> TransportError | None:
    left = [d for d in deliveries if d.state != "delivered"]
    if not left:
        return None
    return TransportError(
        f"{len(left)} submission(s) not delivered: "
        + "; ".join(f"{d.digest[7:19]}… {d.state} ({d.detail})" for d in left[:3])
    )
