"""``vanfed demo``: a synthetic ASEAN federation, end to end, in one folder.

Five member states' synthetic exports (each in its own shape, with dirty rows) → keys and a
2-of-3 root-signed trust registry → each node ingests, protects, signs → delivery to the
coordinator's inbox and transparency log, by file drop or (``http=True``) through a real
``vanfed serve`` process on 127.0.0.1 and each node's outbox, sealed with HPKE → the
coordinator merges what the log holds and signs the regional report → the audit replays it
and holds the log to every node's receipt.

With ``secure=True`` the coordinator also opens a secure round among the five nodes: each
contributes its true counts, masked and with its share of the noise, through the same door
(by file or sealed over HTTP); the round completes at the last contribution, and the
report's region rows come from it.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from random import Random

from vanfed._audit import AuditVerdict, audit
from vanfed._coordinator import Coordinator, RegionalOutput
from vanfed._json import atomic_write, loads_strict
from vanfed._node import Node
from vanfed.errors import InputError, TransportError
from vanfed.ingest import CodedRecords
from vanfed.report import LANGUAGES
from vanfed.schema import Policy, SecurePolicy, TrustRegistry, load_mapping
from vanfed.signing import (
    EncryptionKeyPair,
    Envelope,
    KeyPair,
    init_registry,
    key_entry,
    pin_trust_root,
    save_keypair,
    sign_registry,
    verify_registry,
)
from vanfed.synthetic import PROFILES, write_export
from vanfed.transport import CoordinatorClient, Inbox, Outbox

__all__ = ["DEMO_PASSPHRASE", "DemoResult", "run_demo"]

DEMO_PASSPHRASE = b"vanfed-demo-only"


@dataclass
class DemoResult:
    out: Path
    period: str
    rows: list[dict[str, object]] = field(default_factory=list)
    regional: RegionalOutput | None = None
    verdict: AuditVerdict | None = None
    delivery: str = "file drop"
    round_id: str | None = None  # the secure round, with secure=True


def _seeded_key(rng: Random) -> KeyPair:
    return KeyPair.from_seed(rng.randbytes(32))


def run_demo(
    out: str | Path,
    *,
    now: dt.datetime,
    seed: int = 2024,
    period: str = "2024",
    countries: tuple[str, ...] = tuple(PROFILES),
    http: bool = False,
    serve_command: Sequence[str] = (),
    langs: tuple[str, ...] = LANGUAGES,
    pdf: bool = False,
    secure: bool = False,
) -> DemoResult:
    """Run the whole federation into ``out``; deterministic for a given seed and time
    (the secure round's noise, drawn from the operating system, is not).

    Args:
        http: deliver through a real service on 127.0.0.1 and each node's outbox.
        serve_command: with ``http``, the command that runs the ``vanfed`` CLI (the caller
            says which; the library starts no interpreter of its own).
        langs: languages of the HTML report (all five by default).
        pdf: also print the report to PDF with headless Chromium.
        secure: also run a secure round among the nodes; the region rows come from it.
    """
    if http and not serve_command:
        raise InputError("demo over HTTP: give the command that runs `vanfed` (serve_command)")
    root = Path(out)
    rng = Random(seed)  # noqa: S311 - demo keys and ids are meant to be reproducible
    result = DemoResult(root, period)
    keys = _Keys.seeded(rng, countries)
    registry = keys.write(root, now)
    nodes = {c: _run_node(root, c, keys, period, now, rng, seed, result) for c in countries}
    inbox = root / "inbox"
    coord = Coordinator(registry, keys.coordinator)
    with _door(root, registry, keys, now, http, serve_command) as door:
        result.delivery = door.name
        for c, (path, _, _) in nodes.items():
            atomic_write(
                root / "nodes" / c / "receipt.dsse.json", door.deliver(c, path.read_bytes())
            )
        if secure:
            result.round_id = _secure_round(root, door, coord, registry, keys, nodes, period, now)
    receipts = root / "receipts"
    for c in countries:
        atomic_write(
            receipts / f"{c.lower()}.dsse.json",
            (root / "nodes" / c / "receipt.dsse.json").read_bytes(),
        )
    result.regional = coord.merge(inbox, period=period, now=now, rng=rng, langs=langs, pdf=pdf)
    result.regional.write(root / "regional")
    result.verdict = audit(
        root / "regional" / "regional.dsse.json",
        inputs=inbox,
        registry=registry,
        now=now,
        receipts=receipts,
    )
    return result


def _secure_round(
    root: Path,
    door: _Door,
    coord: Coordinator,
    registry: TrustRegistry,
    keys: _Keys,
    nodes: dict[str, tuple[Path, Node, CodedRecords]],
    period: str,
    now: dt.datetime,
) -> str:
    """Open a round among the nodes, have each contribute through the door; its id."""
    announcement = coord.open_round(root / "inbox", period=period, now=now)
    door.announce(announcement)
    for c, (_, node, records) in nodes.items():
        contribution = node.contribute(
            announcement,
            records,
            signer=keys.nodes[c],
            agreement=keys.agreements[c],
            registry=registry,
            now=now,
        )
        atomic_write(root / "nodes" / c / "contribution.dsse.json", contribution)
        atomic_write(
            root / "nodes" / c / "contribution.receipt.dsse.json", door.deliver(c, contribution)
        )
    return str(loads_strict(Envelope.from_bytes(announcement).payload)["round_id"])


def _write_registry(root: Path, reg_bytes: bytes, now: dt.datetime) -> TrustRegistry:
    atomic_write(root / "registry.dsse.json", reg_bytes)
    registry = verify_registry(reg_bytes, now=now)
    # The demo's own anchor (never the user's): VANFED_TRUST_ROOT=<out>/trust-root.json.
    atomic_write(root / "trust-root.json", pin_trust_root(registry).canonical_bytes() + b"\n")
    return registry


@dataclass(frozen=True)
class _Keys:
    """Every key of the demo federation, from one seeded generator."""

    roots: list[KeyPair]
    coordinator: KeyPair
    nodes: dict[str, KeyPair]
    log: KeyPair
    sealing: EncryptionKeyPair
    agreements: dict[str, EncryptionKeyPair]

    @classmethod
    def seeded(cls, rng: Random, countries: tuple[str, ...]) -> _Keys:
        roots = [_seeded_key(rng) for _ in range(3)]
        coordinator = _seeded_key(rng)
        nodes = {c: _seeded_key(rng) for c in countries}
        log_key = _seeded_key(rng)
        sealing = EncryptionKeyPair.from_seed(rng.randbytes(32))
        agreements = {c: EncryptionKeyPair.from_seed(rng.randbytes(32)) for c in countries}
        return cls(roots, coordinator, nodes, log_key, sealing, agreements)

    def write(self, root: Path, now: dt.datetime) -> TrustRegistry:
        """Save every key (encrypted) and the 2-of-3 root-signed registry; the registry."""
        keys = root / "keys"
        for i, k in enumerate(self.roots):
            save_keypair(k, keys / f"root{i + 1}", DEMO_PASSPHRASE)
        save_keypair(self.coordinator, keys / "coordinator", DEMO_PASSPHRASE)
        save_keypair(self.log, keys / "log", DEMO_PASSPHRASE)
        save_keypair(self.sealing, keys / "encryption", DEMO_PASSPHRASE)
        for c, k in self.nodes.items():
            save_keypair(k, keys / f"node-{c.lower()}", DEMO_PASSPHRASE)
        for c, a in self.agreements.items():
            save_keypair(a, keys / f"agreement-{c.lower()}", DEMO_PASSPHRASE)
        entries = [
            key_entry(self.coordinator.public, "coordinator", now=now),
            key_entry(self.log.public, "log", now=now),
            key_entry(self.sealing.public, "encryption", now=now),
        ]
        entries += [key_entry(k.public, "node", now=now, country=c) for c, k in self.nodes.items()]
        entries += [
            key_entry(a.public, "agreement", now=now, country=c) for c, a in self.agreements.items()
        ]
        registry = init_registry(
            [k.public for k in self.roots],
            threshold=2,
            now=now,
            keys=entries,
            policy=Policy(secure=SecurePolicy()),
        )
        return _write_registry(root, sign_registry(registry, self.roots[:2]), now)


def _run_node(
    root: Path,
    c: str,
    keys: _Keys,
    period: str,
    now: dt.datetime,
    rng: Random,
    seed: int,
    result: DemoResult,
) -> tuple[Path, Node, CodedRecords]:
    """One member state: export → ingest → protect → sign; its signed summary's path, its
    node and records (a secure round counts them again)."""
    year = int(period[:4])
    export = write_export(c, root / "exports", years=range(year - 2, year + 1), seed=seed)
    node = Node(c, ledger=root / "nodes" / c / "ledger")
    records = node.ingest(
        export.path,
        load_mapping(export.mapping_path),
        rejects=root / "nodes" / c / "rejects.csv",
        today=now.date(),
    )
    summary = node.summarize(records, period=period, now=now, rng=rng)
    atomic_write(root / "nodes" / c / "summary.json", summary.canonical_bytes())
    q = records.quality
    result.rows.append(
        {
            "country": c,
            "file": export.path.name,
            "read": q.records_read,
            "accepted": q.records_accepted,
            "rejected": q.records_rejected,
            "published": summary.protection.audit.published_cells,
            "suppressed": summary.protection.audit.suppressed_cells,
        }
    )
    path = atomic_write(root / "nodes" / c / "summary.dsse.json", node.sign(summary, keys.nodes[c]))
    return path, node, records


class _Door:
    """How the demo reaches the coordinator's door: ``deliver`` a node's envelope (its
    receipt back), ``announce`` the coordinator's round."""

    name = "file drop"

    def deliver(self, country: str, envelope: bytes) -> bytes:
        raise NotImplementedError

    def announce(self, envelope: bytes) -> None:
        raise NotImplementedError


class _FileDoor(_Door):
    def __init__(self, box: Inbox) -> None:
        self.box = box

    def deliver(self, country: str, envelope: bytes) -> bytes:
        accepted = self.box.accept(envelope)
        return accepted.receipt

    def announce(self, envelope: bytes) -> None:
        self.box.accept(envelope)


class _HttpDoor(_Door):
    def __init__(self, root: Path, url: str, registry: TrustRegistry) -> None:
        self.root, self.url, self.registry = root, url, registry
        self.name = f"HTTP to {url}, sealed (HPKE)"

    def deliver(self, country: str, envelope: bytes) -> bytes:
        with Outbox(
            self.root / "nodes" / country / "outbox", self.registry, max_backoff=1.0
        ) as box:
            digest = box.queue(envelope, self.url, sealed=True)
            box.flush(max_wait=60)
            receipt = box.receipt(digest)
        if receipt is None:
            raise TransportError(f"{country}: no receipt from {self.url}")
        return receipt

    def announce(self, envelope: bytes) -> None:
        with CoordinatorClient(self.url) as client:
            answer = client.submit(envelope)
        if not answer.accepted:
            raise TransportError(f"{self.url}: the round was refused: {answer.error_text()}")


@contextmanager
def _door(
    root: Path,
    registry: TrustRegistry,
    keys: _Keys,
    now: dt.datetime,
    http: bool,
    command: Sequence[str],
) -> Iterator[_Door]:
    """The inbox itself (file drop), or a real ``<command> serve`` on 127.0.0.1."""
    if not http:
        box = Inbox(
            root / "inbox",
            registry,
            coordinator=keys.coordinator,
            log_key=keys.log,
            now=lambda: now,
        )
        try:
            yield _FileDoor(box)
        finally:
            box.close()
        return
    with _served(root, command) as url:
        yield _HttpDoor(root, url, registry)


@contextmanager
def _served(root: Path, command: Sequence[str]) -> Iterator[str]:
    """``<command> serve`` on 127.0.0.1 around the demo's inbox, for as long as needed."""
    ready = root / "serve.url"
    ready.unlink(missing_ok=True)
    env = {
        **os.environ,
        "VANFED_PASSPHRASE": DEMO_PASSPHRASE.decode(),
        "VANFED_TRUST_ROOT": str(root / "trust-root.json"),
    }
    keys = root / "keys"
    with (root / "serve.log").open("wb") as log:
        proc = subprocess.Popen(
            [
                *command, "serve",
                "--inbox", str(root / "inbox"),
                "--registry", str(root / "registry.dsse.json"),
                "--key", str(keys / "coordinator"),
                "--log-key", str(keys / "log"),
                "--encryption-key", str(keys / "encryption"),
                "--port", "0",
                "--ready-file", str(ready),
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (ready.exists() and ready.read_text().endswith("\n")):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise TransportError(f"vanfed serve did not start; see {root / 'serve.log'}")
            time.sleep(0.05)
        yield ready.read_text().strip()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
