"""``vanfed round open|contribute|close|status``: the secure regional path."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress

from vanfed._coordinator import Coordinator
from vanfed._json import atomic_write, read_limited
from vanfed._node import Node
from vanfed.cli._common import (
    JsonOpt,
    console,
    emit,
    load_registry,
    now,
    require_file,
    require_output,
    signing_key,
)
from vanfed.cli._node_cmds import LedgerOption
from vanfed.cli._transport_cmds import (
    DEFAULT_OUTBOX,
    ORIGIN,
    CaCert,
    OutboxDir,
    Registry,
    open_inbox,
    raise_undelivered,
)
from vanfed.errors import InputError, TransportError
from vanfed.schema import (
    RESULT_TYPE,
    ContributionRef,
    RoundAnnouncement,
    RoundResult,
    load_mapping,
)
from vanfed.secure import announced_epsilon, verified_announcement
from vanfed.signing import (
    MAX_ENVELOPE_BYTES,
    Envelope,
    load_encryption_key,
    parse_payload,
    passphrase_from_env,
    sign_envelope,
    timestamp,
)
from vanfed.transport import CoordinatorClient, Outbox

app = typer.Typer(no_args_is_help=True, help="Secure rounds: regional sums no one sees alone.")

Inbox = Annotated[Path, typer.Option(help="The coordinator's inbox folder")]
To = Annotated[str | None, typer.Option("--to", help="Through the running service at this URL")]
From = Annotated[str | None, typer.Option("--from", help="The coordinator's base URL")]
KeyOpt = Annotated[Path, typer.Option("--key", help="Coordinator private key PREFIX")]
LogKey = Annotated[
    Path | None, typer.Option("--log-key", help="Log key PREFIX (with --inbox, no service)")
]


def _label(ann: RoundAnnouncement) -> str:
    countries = ", ".join(p.country for p in ann.participants)
    return (
        f"round {ann.round_id} for {ann.period}: {len(ann.tables)} tables, participants "
        f"{countries}; deadline {ann.deadline}; noise variance {ann.noise.variance:g} "
        f"(margin factor {ann.noise.margin_factor}, safe against the coordinator with "
        f"{ann.noise.collusion} colluding node(s)), ε = {announced_epsilon(ann):.1f} at "
        f"δ = {ann.noise.delta:g} per record"
    )


@app.command("open")
def round_open(
    inbox: Inbox,
    registry: Registry,
    key: KeyOpt,
    period: Annotated[str, typer.Option(help="YYYY or YYYY-Qn")],
    log_key: LogKey = None,
    to: To = None,
    hours: Annotated[float, typer.Option(help="Hours until the deadline")] = 168.0,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Also write the announcement here")
    ] = None,
    ca_cert: CaCert = None,
    as_json: JsonOpt = False,
) -> None:
    """Announce a round among the countries whose current summaries the inbox holds.

    The announcement goes through the door: with --to into the running service, else
    straight into the inbox (which then needs --log-key)."""
    reg = load_registry(registry)
    coordinator = Coordinator(reg, signing_key(key))
    when = now()
    envelope = coordinator.open_round(
        inbox, period=period, now=when, deadline=when + dt.timedelta(hours=hours)
    )
    ann = parse_payload(Envelope.from_bytes(envelope).payload, RoundAnnouncement)
    if out_path is not None:
        atomic_write(require_output(out_path), envelope)
    _through_door(envelope, inbox, registry, key, log_key, to, ca_cert)
    emit(as_json, ann.to_json_obj(), _label(ann))


def _through_door(
    envelope: bytes,
    inbox: Path,
    registry: Path,
    key: Path,
    log_key: Path | None,
    to: str | None,
    ca_cert: Path | None,
) -> None:
    """Put a coordinator statement through the door (the service, or the inbox itself)."""
    if to is not None:
        with CoordinatorClient(to, verify=str(ca_cert) if ca_cert else True) as client:
            answer = client.submit(envelope)
        if not answer.accepted:
            raise TransportError(f"{to}: refused: {answer.error_text()}")
        return
    if log_key is None:
        raise InputError("--inbox without --to puts it in the inbox itself: give --log-key")
    box = open_inbox(inbox, registry, key, log_key, None, ORIGIN)
    try:
        box.accept(envelope)
    finally:
        box.close()


def _announcement(
    announcement: Path | None,
    url: str | None,
    country: str,
    round_id: str | None,
    ca_cert: Path | None,
) -> bytes:
    """The announcement, from a file or from the open rounds the coordinator lists."""
    if (announcement is None) == (url is None):
        raise InputError("give --announcement FILE or --from URL")
    if announcement is not None:
        return read_limited(require_file(announcement, "announcement"), MAX_ENVELOPE_BYTES)
    assert url is not None
    with CoordinatorClient(url, verify=str(ca_cert) if ca_cert else True) as client:
        listing = [
            r
            for r in client.rounds(status="open")
            if country in r["participants"] and (round_id is None or r["round_id"] == round_id)
        ]
        if len(listing) != 1:
            found = ", ".join(r["round_id"] for r in listing) or "none"
            raise InputError(
                f"{url}: {len(listing)} open rounds for {country} ({found}); "
                + ("give --round ID" if listing else "wait for the coordinator to open one")
            )
        return client.round_envelope(listing[0]["round_id"])


@app.command("contribute")
def round_contribute(
    input_path: Annotated[Path, typer.Argument(metavar="INPUT", help="The national export")],
    mapping: Annotated[Path, typer.Option(help="Mapping TOML")],
    country: Annotated[str, typer.Option(help="ISO 3166-1 alpha-3")],
    key: Annotated[Path, typer.Option("--key", help="Node signing key PREFIX")],
    agreement_key: Annotated[
        Path, typer.Option("--agreement-key", help="Node agreement key PREFIX (X25519)")
    ],
    registry: Registry,
    ledger: LedgerOption = Path("vanfed-ledger"),
    announcement: Annotated[
        Path | None, typer.Option(help="The round's announcement (.dsse.json)")
    ] = None,
    url: From = None,
    round_id: Annotated[str | None, typer.Option("--round", help="Which open round")] = None,
    out_path: Annotated[Path | None, typer.Option("--out", help="Write the contribution")] = None,
    to: To = None,
    seal: Annotated[bool, typer.Option(help="Seal to the registry's encryption key")] = True,
    outbox: OutboxDir = DEFAULT_OUTBOX,
    max_wait: Annotated[float, typer.Option(help="Seconds to keep retrying")] = 300.0,
    ca_cert: CaCert = None,
    as_json: JsonOpt = False,
) -> None:
    """Contribute this country's true counts to a round: masked, with its share of the
    noise, checked against the ledger (the round must name your latest summary, your
    records must still give it, and the round must fit your privacy budget).

    With --to the contribution is sent through the outbox (sealed by default) and its
    receipt written beside --out; without, write it with --out and send it later
    (`vanfed submit`, or by file)."""
    if out_path is None and to is None:
        raise InputError("give --out FILE, --to URL, or both")
    reg = load_registry(registry)
    data = _announcement(announcement, url, country, round_id, ca_cert)
    node = Node(country, ledger=ledger)
    ann = verified_announcement(data, reg, node.codebook, now())
    signer = signing_key(key)
    agreement = load_encryption_key(agreement_key, passphrase_from_env(prompt=sys.stdin.isatty()))
    with Progress(console=console, transient=True) as progress:
        progress.add_task(f"reading {input_path.name}", total=None)
        records = node.ingest(input_path, load_mapping(mapping))
    envelope = node.contribute(
        data, records, signer=signer, agreement=agreement, registry=reg, now=now()
    )
    result: dict[str, Any] = {"round": ann.round_id, "country": country, "bytes": len(envelope)}
    if out_path is not None:
        result["contribution"] = str(atomic_write(out_path, envelope))
    if to is not None:
        with Outbox(outbox, reg, ca_cert=ca_cert) as box:
            digest = box.queue(envelope, to, sealed=seal)
            results = box.flush(max_wait=max_wait)
            receipt = box.receipt(digest)
        if receipt is not None:
            where = out_path or Path(f"{country.lower()}-{ann.round_id[:12]}.dsse.json")
            name = where.name.removesuffix(".json").removesuffix(".dsse") + ".receipt.dsse.json"
            result["receipt"] = str(atomic_write(where.with_name(name), receipt))
        raise_undelivered(results, outbox)
    emit(
        as_json,
        result,
        f"{country}: contribution to {_label(ann)}",
        *(f"  {k}: {v}" for k, v in result.items() if k in ("contribution", "receipt")),
    )


@app.command("close")
def round_close(
    round_id: Annotated[str, typer.Argument(help="The round's id")],
    registry: Registry,
    key: KeyOpt,
    inbox: Annotated[Path | None, typer.Option(help="The inbox folder (no service)")] = None,
    log_key: LogKey = None,
    to: To = None,
    ca_cert: CaCert = None,
    as_json: JsonOpt = False,
) -> None:
    """Abort an open round now (a participant will not come): its masks cannot cancel, so
    nothing is summed; open a new round with the rest. A round closes by itself when
    complete, or when its deadline passes."""
    if (inbox is None) == (to is None):
        raise InputError("give --inbox (service stopped) or --to URL (service running)")
    if to is not None:
        load_registry(registry)  # the pinned registry must hold, as for every command
        with CoordinatorClient(to, verify=str(ca_cert) if ca_cert else True) as client:
            row = next((r for r in client.rounds() if r["round_id"] == round_id), None)
            if row is None or row["status"] not in ("open", "expired"):
                state = "unknown" if row is None else row["status"]
                raise InputError(f"{to}: round {round_id} is {state}")
            result = _aborted(row, now())
            answer = client.submit(
                sign_envelope(result.canonical_bytes(), RESULT_TYPE, [signing_key(key)]).to_bytes()
            )
        if not answer.accepted:
            raise TransportError(f"{to}: refused: {answer.error_text()}")
        missing = list(result.missing)
    else:
        if log_key is None:
            raise InputError("--inbox needs --log-key")
        assert inbox is not None
        box = open_inbox(inbox, registry, key, log_key, None, ORIGIN)
        try:
            box.close_round(round_id)
            missing = next(r["missing"] for r in box.round_status() if r["round_id"] == round_id)
        finally:
            box.close()
    emit(
        as_json,
        {"round": round_id, "status": "aborted", "missing": missing},
        f"round {round_id}: aborted; missing {', '.join(missing)}",
    )


def _aborted(row: dict[str, Any], when: dt.datetime) -> RoundResult:
    """The aborted result of a listed round, as the door will recompute it."""
    return RoundResult(
        round_id=row["round_id"],
        announcement=row["announcement"],
        announcement_log_index=row["announcement_index"],
        period=row["period"],
        closed_at=timestamp(when),
        status="aborted",
        contributions=tuple(
            ContributionRef(country=c["country"], envelope_sha256=c["digest"], log_index=c["index"])
            for c in row["contributions"]
        ),
        missing=tuple(row["missing"]),
    )


@app.command("status")
def round_status(
    registry: Registry,
    inbox: Annotated[Path | None, typer.Option(help="The inbox folder")] = None,
    url: From = None,
    period: Annotated[str | None, typer.Option(help="Only this period")] = None,
    key: Annotated[
        Path | None, typer.Option("--key", help="Coordinator key (with --inbox)")
    ] = None,
    log_key: LogKey = None,
    ca_cert: CaCert = None,
    as_json: JsonOpt = False,
) -> None:
    """Every round: open, complete, aborted or expired, who contributed and who not."""
    if (inbox is None) == (url is None):
        raise InputError("give --inbox (with --key and --log-key) or --from URL")
    if url is not None:
        with CoordinatorClient(url, verify=str(ca_cert) if ca_cert else True) as client:
            rows = client.rounds(period=period)
    else:
        if key is None or log_key is None:
            raise InputError("--inbox needs --key and --log-key (the door closes due rounds)")
        assert inbox is not None
        box = open_inbox(inbox, registry, key, log_key, None, ORIGIN)
        try:
            rows = [r for r in box.round_status() if period is None or r["period"] == period]
        finally:
            box.close()
    emit(
        as_json,
        rows,
        *(
            f"{r['round_id']} {r['period']} {r['status']}: contributed "
            f"{', '.join(r['contributed']) or 'none'}"
            + (f"; missing {', '.join(r['missing'])}" if r["missing"] else "")
            + f" (deadline {r['deadline']})"
            for r in rows
        ),
        *(["no rounds"] if not rows else []),
    )


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="round")
