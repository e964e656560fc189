"""``vanfed serve``, ``submit``, ``outbox list|flush``, ``inbox import`` and
``log checkpoint|prove|verify|consistency``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from vanfed._json import atomic_write, loads_strict, read_limited
from vanfed.cli._common import (
    JsonOpt,
    emit,
    load_registry,
    now,
    out,
    print_json,
    require_file,
    signing_key,
)
from vanfed.errors import InputError, TransportError, VerificationError
from vanfed.schema import TrustRegistry
from vanfed.signing import Envelope, envelope_digest, load_encryption_key, passphrase_from_env
from vanfed.tlog import (
    DEFAULT_ORIGIN,
    MAX_NOTE_BYTES,
    InclusionProof,
    TransparencyLog,
    check_consistency,
    inclusion_proof,
    log_folder,
    log_keys,
    verified_checkpoint,
    verify_included,
)
from vanfed.transport import (
    CoordinatorClient,
    Delivery,
    Imported,
    Inbox,
    Outbox,
    deliver_error,
    import_path,
    import_remote,
    serve,
)

DEFAULT_OUTBOX = Path.home() / ".vanfed" / "outbox"
Registry = Annotated[Path, typer.Option(help="Trust registry (registry.dsse.json)")]
OutboxDir = Annotated[Path, typer.Option("--outbox", help="Outbox folder")]
CaCert = Annotated[
    Path | None, typer.Option("--ca-cert", help="CA (PEM) to trust for an https coordinator")
]


def open_inbox(
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
        registry_file=registry,
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
    box = open_inbox(inbox, registry, key, log_key, encryption_key, origin)
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
    receipts: Annotated[
        Path | None,
        typer.Option(help="Folder for receipts (default: beside each envelope)"),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Queue envelopes in the outbox and deliver them; retries until a receipt arrives.

    Each verified receipt is written as ENVELOPE.receipt.dsse.json (or into --receipts).
    """
    reg = load_registry(registry)
    with Outbox(outbox, reg, max_backoff=max_backoff, ca_cert=ca_cert) as box:
        where: dict[str, Path] = {}
        for f in files:
            data = read_limited(require_file(f, "envelope"), reg.policy.max_envelope_bytes)
            where[box.queue(data, to, sealed=seal)] = f
        results = box.flush(max_wait=max_wait, on_attempt=None if as_json else _progress)
        written = {}
        for digest, f in where.items():  # delivered now or on an earlier run
            receipt = box.receipt(digest)
            if receipt is not None:
                written[digest] = str(_write_receipt(f, receipt, receipts))
        rows: list[dict[str, Any]] = [
            {"digest": d.digest, "state": d.state, "detail": d.detail}
            | ({"receipt_file": written[d.digest]} if d.digest in written else {})
            for d in results
        ]
        emit(
            as_json,
            rows,
            *(
                f"{r['digest'][:19]}… receipt: {r['receipt_file']}"
                for r in rows
                if "receipt_file" in r
            ),
        )
    raise_undelivered(results, outbox)


def _progress(d: Delivery) -> None:
    """One line per attempt, so a retrying submit shows what it is waiting for."""
    out.print(f"{d.digest[:19]}… {d.state}" + (f": {d.detail}" if d.detail else ""), markup=False)


def raise_undelivered(results: list[Delivery], outbox: Path) -> None:
    """A refusal is final (fix the summary, send a new revision); only what is still
    queued is worth `vanfed outbox flush` later."""
    err = deliver_error(results)
    if err is None:
        return
    if any(d.state == "queued" for d in results):
        raise TransportError(f"{err}; left in {outbox}: run `vanfed outbox flush` later")
    raise TransportError(f"{err}; refused by the coordinator: retrying cannot help")


def _write_receipt(envelope: Path, receipt: bytes, folder: Path | None) -> Path:
    name = envelope.name.removesuffix(".json").removesuffix(".dsse") + ".receipt.dsse.json"
    target = (folder or envelope.parent) / name
    atomic_write(target, receipt)
    return target


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
        for e in entries:  # the verified receipt, as the coordinator signed it
            receipt = box.receipt(e["digest"])
            if receipt is not None:
                e["receipt"] = json.loads(receipt)
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
    as_json: JsonOpt = False,
) -> None:
    """Deliver everything queued (e.g. after a restart or an outage)."""
    reg = load_registry(registry)
    with Outbox(outbox, reg, max_backoff=max_backoff, ca_cert=ca_cert) as box:
        results = box.flush(max_wait=max_wait, on_attempt=None if as_json else _progress)
    emit(
        as_json,
        [{"digest": d.digest, "state": d.state, "detail": d.detail} for d in results],
        f"{sum(d.state == 'delivered' for d in results)} delivered",
    )
    raise_undelivered(results, outbox)


inbox_app = typer.Typer(no_args_is_help=True, help="The coordinator's inbox.")


@inbox_app.command("import")
def inbox_import(
    paths: Annotated[list[Path], typer.Argument(help="Envelopes, folders or zip bundles")],
    registry: Registry,
    inbox: Annotated[Path | None, typer.Option(help="Inbox folder (service not running)")] = None,
    to: Annotated[
        str | None, typer.Option(help="Import through the running service at this URL")
    ] = None,
    key: Annotated[Path | None, typer.Option("--key", help="Coordinator key PREFIX")] = None,
    log_key: Annotated[Path | None, typer.Option("--log-key", help="Log key PREFIX")] = None,
    encryption_key: EncOpt = None,
    origin: OriginOpt = ORIGIN,
    receipts: Annotated[Path | None, typer.Option(help="Write receipts here")] = None,
    ca_cert: CaCert = None,
    as_json: JsonOpt = False,
) -> None:
    """File drop: the same verification, idempotency and log as HTTP submissions. With
    --to, through the running service (which holds the inbox's log); else in process.
    Exit 1 if any item is rejected (the others are accepted)."""
    if (inbox is None) == (to is None):
        raise InputError("give --inbox (service stopped) or --to URL (service running)")
    items: list[Imported] = []
    if to is not None:
        reg = load_registry(registry)
        with CoordinatorClient(to, verify=str(ca_cert) if ca_cert else True) as client:
            for p in paths:
                items += import_remote(client, p, reg, now=now())
    else:
        if key is None or log_key is None:
            raise InputError("--inbox needs --key and --log-key")
        assert inbox is not None
        box = open_inbox(inbox, registry, key, log_key, encryption_key, origin)
        try:
            for p in paths:
                items += import_path(box, p)
        finally:
            box.close()
    _report_imported(items, receipts, as_json)


def _report_imported(items: list[Imported], receipts: Path | None, as_json: bool) -> None:
    """One line (or JSON object) per item; a receipt file for each accepted one; exit 1 if
    any was refused."""
    rejected, rows, lines = 0, [], []
    for item in items:
        if item.accepted is not None:
            a = item.accepted
            where = f" as log entry {a.index}" if a.index >= 0 else ""
            state = "accepted" if a.new else "already accepted"
            lines.append(f"{item.source}: {state}{where}")
            row: dict[str, object] = {"source": item.source, "status": state.replace(" ", "_")}
            row |= {"digest": a.digest, "index": a.index if a.index >= 0 else None}
            if receipts is not None:
                target = receipts / f"{a.digest[7:]}.receipt.dsse.json"
                atomic_write(target, a.receipt)
                row["receipt"] = str(target)
            rows.append(row)
        else:
            rejected += 1
            r = item.rejected
            lines.append(f"{item.source}: rejected: {r.reasons[0] if r else '?'}: {r}")
            rows.append(
                {
                    "source": item.source,
                    "status": "rejected",
                    "reasons": list(r.reasons) if r else [],
                    "message": str(r) if r else "",
                }
            )
    emit(as_json, {"items": rows, "rejected": rejected}, *lines)
    if rejected:
        raise VerificationError(f"{rejected} of {len(items)} item(s) rejected")


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
        with CoordinatorClient(url) as client:
            note = client.checkpoint()
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
    try:
        proof = inclusion_proof(log, envelope_digest(data), size)
    except VerificationError as exc:
        raise VerificationError(f"{envelope}: {exc}", exc.reasons) from exc
    print_json(proof.to_json_obj())


@log_app.command("verify")
def log_verify(
    envelope: Annotated[Path, typer.Argument()],
    proof: Annotated[Path, typer.Option(help="Proof JSON (log prove) or a receipt (.dsse.json)")],
    registry: Registry,
    as_json: JsonOpt = False,
) -> None:
    """Check that an envelope is in the log, from a proof or a receipt alone."""
    reg = load_registry(registry)
    data = read_limited(require_file(envelope, "envelope"), reg.policy.max_envelope_bytes)
    raw = read_limited(require_file(proof, "proof"), reg.policy.max_envelope_bytes)
    obj: Any = loads_strict(raw, subject=str(proof))
    if isinstance(obj, dict) and "payloadType" in obj:  # a receipt
        obj = loads_strict(Envelope.from_bytes(raw).payload, subject=str(proof)).get("log")
    if not isinstance(obj, dict):
        raise InputError(f"{proof}: not an inclusion proof")
    parsed = InclusionProof.from_json_obj(obj, subject=str(proof))
    try:
        checkpoint = verify_included(data, parsed, log_keys(reg))
    except VerificationError as exc:
        raise VerificationError(f"{envelope}: {exc}", exc.reasons) from exc
    emit(
        as_json,
        {
            "included": True,
            "index": parsed.index,
            "origin": checkpoint.origin,
            "size": checkpoint.size,
        },
        f"{envelope}: included at index {parsed.index} of {checkpoint.origin} "
        f"size {checkpoint.size}",
    )


@log_app.command("consistency")
def log_consistency(
    old: Annotated[Path, typer.Argument(help="Older checkpoint (signed note)")],
    new: Annotated[Path, typer.Argument(help="Newer checkpoint (signed note)")],
    registry: Registry,
    inbox: Annotated[Path | None, typer.Option(help="Inbox folder holding .vanfed/log")] = None,
    url: Annotated[str | None, typer.Option("--from", help="Coordinator base URL")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check that the newer checkpoint extends the older one (the log did not fork)."""
    reg = load_registry(registry)
    keys = log_keys(reg)
    a, _ = verified_checkpoint(read_limited(require_file(old, "checkpoint"), MAX_NOTE_BYTES), keys)
    b, _ = verified_checkpoint(read_limited(require_file(new, "checkpoint"), MAX_NOTE_BYTES), keys)
    if a.size > b.size:
        raise InputError(f"{old} (size {a.size}) is newer than {new} (size {b.size})")
    if url is not None:
        with CoordinatorClient(url) as client:
            proof = client.consistency(a.size, b.size)
    elif inbox is not None:
        proof = _read_log(inbox, reg).tree.consistency_proof(a.size, b.size)
    else:
        raise InputError("give --inbox or --from to obtain the proof")
    check_consistency(a, b, proof)
    emit(
        as_json,
        {"consistent": True, "old_size": a.size, "new_size": b.size},
        f"consistent: size {a.size} is a prefix of size {b.size}",
    )


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_cmd)
    app.command()(submit)
    app.add_typer(outbox_app, name="outbox")
    app.add_typer(inbox_app, name="inbox")
    app.add_typer(log_app, name="log")
