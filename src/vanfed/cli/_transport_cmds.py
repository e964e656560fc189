"""``vanfed serve``, ``submit``, ``outbox list|flush``, ``inbox import`` and
``log checkpoint|prove|verify|consistency``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from vanfed._json import atomic_write, loads_strict, read_limited
from vanfed.cli._common import load_registry, out, print_json, require_file, signing_key
from vanfed.errors import InputError, LogError, TransportError, VerificationError
from vanfed.schema import TrustRegistry
from vanfed.signing import Envelope, envelope_digest, load_encryption_key, passphrase_from_env
from vanfed.transport import (
    DEFAULT_ORIGIN,
    Inbox,
    Outbox,
    TransparencyLog,
    deliver_error,
    import_path,
    leaf_hash,
    log_folder,
    log_keys,
    serve,
    verified_checkpoint,
    verify_consistency,
    verify_inclusion,
)

DEFAULT_OUTBOX = Path.home() / ".vanfed" / "outbox"
Registry = Annotated[Path, typer.Option(help="Trust registry (registry.dsse.json)")]
OutboxDir = Annotated[Path, typer.Option("--outbox", help="Outbox folder")]
CaCert = Annotated[
    Path | None, typer.Option("--ca-cert", help="CA (PEM) to trust for an https coordinator")
]


def _open_inbox(
    inbox: Path, registry: Path, key: Path, log_key: Path, encryption_key: Path | None, origin: str
) -> Inbox:
    enc = []
    if encryption_key is not None:
        enc = [load_encryption_key(encryption_key, passphrase_from_env(prompt=sys.stdin.isatty()))]
    return Inbox(
        inbox,
        load_registry(registry),
        coordinator=signing_key(key),
        log_key=signing_key(log_key),
        origin=origin,
        encryption_keys=enc,
    )


KeyOpt = Annotated[Path, typer.Option("--key", help="Coordinator private key PREFIX")]
LogKeyOpt = Annotated[Path, typer.Option("--log-key", help="Log private key PREFIX")]
EncOpt = Annotated[
    Path | None, typer.Option("--encryption-key", help="X25519 key PREFIX for sealed submissions")
]
OriginOpt = Annotated[str, typer.Option(help="Log origin (first line of checkpoints)")]
InboxOpt = Annotated[Path, typer.Option(help="Inbox folder")]
ORIGIN = DEFAULT_ORIGIN


def serve_cmd(
    inbox: InboxOpt,
    registry: Registry,
    key: KeyOpt,
    log_key: LogKeyOpt,
    encryption_key: EncOpt = None,
    origin: OriginOpt = ORIGIN,
    host: str = "127.0.0.1",
    port: int = 8443,
    tls_cert: Annotated[Path | None, typer.Option()] = None,
    tls_key: Annotated[Path | None, typer.Option()] = None,
    ready_file: Annotated[
        Path | None, typer.Option(help="Write the URL here once listening")
    ] = None,
    body_deadline: Annotated[float, typer.Option(help="Seconds allowed to send a body")] = 30.0,
) -> None:
    """Run the coordinator's HTTP service (POST /v1/submissions; see /v1/openapi.json)."""
    box = _open_inbox(inbox, registry, key, log_key, encryption_key, origin)
    serve(
        box,
        host=host,
        port=port,
        tls_cert=tls_cert,
        tls_key=tls_key,
        ready=ready_file,
        body_deadline=body_deadline,
    )


def submit(
    files: Annotated[list[Path], typer.Argument(help="Signed summaries (.dsse.json)")],
    to: Annotated[str, typer.Option(help="Coordinator base URL")],
    registry: Registry,
    outbox: OutboxDir = DEFAULT_OUTBOX,
    seal: Annotated[bool, typer.Option(help="Seal to the registry's encryption key")] = False,
    max_wait: Annotated[float, typer.Option(help="Seconds to keep retrying")] = 300.0,
    max_backoff: Annotated[float, typer.Option(help="Longest pause between attempts")] = 300.0,
    ca_cert: CaCert = None,
) -> None:
    """Queue envelopes in the outbox and deliver them; retries until a receipt arrives."""
    reg = load_registry(registry)
    with Outbox(outbox, reg, max_backoff=max_backoff, ca_cert=ca_cert) as box:
        for f in files:
            data = read_limited(require_file(f, "envelope"), reg.policy.max_envelope_bytes)
            box.queue(data, to, sealed=seal)
        results = box.flush(max_wait=max_wait)
        for d in results:
            out.print(
                f"{d.digest[:19]}… {d.state}" + (f": {d.detail}" if d.detail else ""), markup=False
            )
        err = deliver_error(results)
        if err is not None:
            raise TransportError(f"{err}; left in {outbox}: run `vanfed outbox flush` later")


outbox_app = typer.Typer(no_args_is_help=True, help="The node's store-and-forward queue.")


@outbox_app.command("list")
def outbox_list(
    registry: Registry,
    outbox: OutboxDir = DEFAULT_OUTBOX,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Every entry: queued, rejected (with the reason) or delivered."""
    with Outbox(outbox, load_registry(registry)) as box:
        entries = box.entries()
    if as_json:
        print_json(entries)
        return
    for e in entries:
        extra = e.get("last_error", "") if e["state"] != "delivered" else ""
        out.print(
            f"{e['digest'][:19]}… {e.get('country', '?')} {e['state']:9} "
            f"attempts={e.get('attempts', 0)} {extra}",
            markup=False,
        )


@outbox_app.command("flush")
def outbox_flush(
    registry: Registry,
    outbox: OutboxDir = DEFAULT_OUTBOX,
    max_wait: Annotated[float, typer.Option()] = 300.0,
    max_backoff: Annotated[float, typer.Option(help="Longest pause between attempts")] = 300.0,
    ca_cert: CaCert = None,
) -> None:
    """Deliver everything queued (e.g. after a restart or an outage)."""
    reg = load_registry(registry)
    with Outbox(outbox, reg, max_backoff=max_backoff, ca_cert=ca_cert) as box:
        results = box.flush(max_wait=max_wait)
    err = deliver_error(results)
    out.print(f"{sum(d.state == 'delivered' for d in results)} delivered")
    if err is not None:
        raise err


inbox_app = typer.Typer(no_args_is_help=True, help="The coordinator's inbox.")


@inbox_app.command("import")
def inbox_import(
    paths: Annotated[list[Path], typer.Argument(help="Envelopes, folders or zip bundles")],
    inbox: InboxOpt,
    registry: Registry,
    key: KeyOpt,
    log_key: LogKeyOpt,
    encryption_key: EncOpt = None,
    origin: OriginOpt = ORIGIN,
    receipts: Annotated[Path | None, typer.Option(help="Write receipts here")] = None,
) -> None:
    """File drop: the same verification, idempotency and log as HTTP submissions."""
    box = _open_inbox(inbox, registry, key, log_key, encryption_key, origin)
    rejected = 0
    try:
        for p in paths:
            for item in import_path(box, p):
                if item.accepted is not None:
                    a = item.accepted
                    out.print(
                        f"{item.source}: {'accepted' if a.new else 'already accepted'} "
                        f"as log entry {a.index}",
                        markup=False,
                    )
                    if receipts is not None:
                        atomic_write(receipts / f"{a.digest[7:]}.receipt.dsse.json", a.receipt)
                else:
                    rejected += 1
                    r = item.rejected
                    out.print(
                        f"{item.source}: rejected: {r.reasons[0] if r else '?'}: {r}", markup=False
                    )
    finally:
        box.close()
    if rejected:
        raise VerificationError(f"{rejected} item(s) rejected")


log_app = typer.Typer(no_args_is_help=True, help="The transparency log, for auditors.")
LogDir = Annotated[Path, typer.Option("--inbox", help="Inbox folder holding .vanfed/log")]


def _read_log(inbox: Path, reg: TrustRegistry) -> TransparencyLog:
    return TransparencyLog.read(log_folder(inbox), log_keys(reg))


@log_app.command("checkpoint")
def log_checkpoint(
    registry: Registry,
    inbox: Annotated[Path | None, typer.Option(help="Inbox folder holding .vanfed/log")] = None,
    url: Annotated[str | None, typer.Option("--from", help="Coordinator base URL")] = None,
) -> None:
    """Print the latest checkpoint (verified against the registry's log keys)."""
    reg = load_registry(registry)
    if (inbox is None) == (url is None):
        raise InputError("give --inbox or --from")
    if url is not None:
        try:
            note = httpx.get(f"{url.rstrip('/')}/v1/log/checkpoint", timeout=30).content
        except httpx.HTTPError as exc:
            raise TransportError(f"{url}: {exc}") from exc
    else:
        log = _read_log(inbox, reg)  # type: ignore[arg-type]
        if not log.checkpoints:
            raise InputError(f"{inbox}: the log has no checkpoint yet")
        note = log.checkpoints[-1][1]
    verified_checkpoint(note, log_keys(reg))
    sys.stdout.write(note.decode())


@log_app.command("prove")
def log_prove(
    envelope: Annotated[Path, typer.Argument()],
    inbox: LogDir,
    registry: Registry,
    size: Annotated[int | None, typer.Option(help="Tree size (default: latest checkpoint)")] = None,
) -> None:
    """An inclusion proof of an envelope, as JSON (with the checkpoint it is against)."""
    reg = load_registry(registry)
    log = _read_log(inbox, reg)
    data = read_limited(require_file(envelope, "envelope"), reg.policy.max_envelope_bytes)
    digest = envelope_digest(data)
    if digest not in log.by_digest:
        raise VerificationError(f"{envelope}: not in the log", ("not_in_log",))
    notes = {cp.size: note for cp, note in log.checkpoints}
    size = size if size is not None else max(notes, default=0)
    if size not in notes:
        raise InputError(f"no checkpoint of size {size}; sizes signed: {sorted(notes)[-5:]}…")
    index = log.by_digest[digest]
    if index >= size:
        raise InputError(f"entry {index} is not within size {size}")
    print_json(
        {
            "envelope_sha256": digest,
            "index": index,
            "checkpoint": notes[size].decode(),
            "inclusion": [h.hex() for h in log.tree.inclusion_proof(index, size)],
        }
    )


@log_app.command("verify")
def log_verify(
    envelope: Annotated[Path, typer.Argument()],
    proof: Annotated[Path, typer.Option(help="Proof JSON (log prove) or a receipt (.dsse.json)")],
    registry: Registry,
) -> None:
    """Check that an envelope is in the log, from a proof or a receipt alone."""
    reg = load_registry(registry)
    data = read_limited(require_file(envelope, "envelope"), reg.policy.max_envelope_bytes)
    raw = read_limited(require_file(proof, "proof"), reg.policy.max_envelope_bytes)
    obj: Any = loads_strict(raw, subject=str(proof))
    if isinstance(obj, dict) and "payloadType" in obj:  # a receipt
        obj = json.loads(Envelope.from_bytes(raw).payload)["log"]
    try:
        checkpoint, _ = verified_checkpoint(str(obj["checkpoint"]).encode(), log_keys(reg))
        path = [bytes.fromhex(h) for h in obj["inclusion"]]
        index = int(obj["index"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{proof}: not an inclusion proof ({exc})") from exc
    if not verify_inclusion(leaf_hash(data), index, checkpoint.size, path, checkpoint.root):
        raise VerificationError(
            f"{envelope}: NOT at index {index} of the log of size {checkpoint.size}",
            ("inclusion_failed",),
        )
    out.print(
        f"{envelope}: included at index {index} of {checkpoint.origin} size {checkpoint.size}"
    )


@log_app.command("consistency")
def log_consistency(
    old: Annotated[Path, typer.Argument(help="Older checkpoint (signed note)")],
    new: Annotated[Path, typer.Argument(help="Newer checkpoint (signed note)")],
    registry: Registry,
    inbox: Annotated[Path | None, typer.Option(help="Inbox folder holding .vanfed/log")] = None,
    url: Annotated[str | None, typer.Option("--from", help="Coordinator base URL")] = None,
) -> None:
    """Check that the newer checkpoint extends the older one (the log did not fork)."""
    reg = load_registry(registry)
    keys = log_keys(reg)
    a, _ = verified_checkpoint(read_limited(require_file(old, "checkpoint"), 16384), keys)
    b, _ = verified_checkpoint(read_limited(require_file(new, "checkpoint"), 16384), keys)
    if a.size > b.size:
        raise InputError(f"{old} (size {a.size}) is newer than {new} (size {b.size})")
    if url is not None:
        try:
            resp = httpx.get(
                f"{url.rstrip('/')}/v1/log/consistency",
                params={"first": a.size, "second": b.size},
                timeout=30,
            )
            proof = [bytes.fromhex(h) for h in resp.json()["consistency"]]
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise TransportError(f"{url}: no consistency proof ({exc})") from exc
    elif inbox is not None:
        proof = _read_log(inbox, reg).tree.consistency_proof(a.size, b.size)
    else:
        raise InputError("give --inbox or --from to obtain the proof")
    if not verify_consistency(a.size, b.size, a.root, b.root, proof):
        raise LogError(
            f"checkpoints of size {a.size} and {b.size} are INCONSISTENT: the log forked",
            ("log_forked",),
        )
    out.print(f"consistent: size {a.size} is a prefix of size {b.size}")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_cmd)
    app.command()(submit)
    app.add_typer(outbox_app, name="outbox")
    app.add_typer(inbox_app, name="inbox")
    app.add_typer(log_app, name="log")
