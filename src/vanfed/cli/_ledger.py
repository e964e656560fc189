"""``vanfed ledger list|rebuild``: the node's publication ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vanfed._json import read_limited
from vanfed._ledger import Ledger
from vanfed.cli._common import load_registry, now, out, print_json
from vanfed.cli._node_cmds import LedgerOption
from vanfed.errors import InputError
from vanfed.schema import InboxLayout, Summary, TrustRegistry
from vanfed.secure import charge_from_log
from vanfed.signing import MAX_ENVELOPE_BYTES, VerificationResult, verification_result
from vanfed.transport import (
    CoordinatorClient,
    TransparencyLog,
    fetch_publications,
    log_folder,
    log_keys,
    read_rounds,
)

app = typer.Typer(no_args_is_help=True, help="The node's publication ledger.")


@app.command("list")
def list_(
    ledger: LedgerOption = Path("vanfed-ledger"),
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Everything this node has published, oldest first."""
    rows = [
        {
            "country": e.summary.country,
            "period": e.summary.period,
            "revision": e.summary.revision,
            "created_at": e.summary.created_at,
            "digest": e.digest,
        }
        for e in Ledger(ledger).entries()
    ]
    if as_json:
        print_json(rows)
        return
    for r in rows:
        out.print(
            f"{r['country']} {r['period']} r{r['revision']}  {r['created_at']}  {r['digest']}"
        )


@app.command()
def rebuild(
    country: Annotated[str, typer.Option(help="ISO 3166-1 alpha-3")],
    registry: Annotated[Path, typer.Option(help="Signed trust registry")],
    from_url: Annotated[str | None, typer.Option("--from", help="Coordinator URL")] = None,
    from_inbox: Annotated[
        Path | None, typer.Option(help="A copy of the coordinator's inbox folder")
    ] = None,
    ledger: LedgerOption = Path("vanfed-ledger"),
    ca_cert: Annotated[Path | None, typer.Option(help="CA for a self-signed coordinator")] = None,
) -> None:
    """Take the country's published envelopes back from the coordinator (each verified),
    and charge the privacy ledger with every secure round the log says it contributed to
    (the node then never contributes to those rounds again)."""
    reg = load_registry(registry)
    if (from_url is None) == (from_inbox is None):
        raise InputError("ledger rebuild: give exactly one of --from URL and --from-inbox DIR")
    if from_url is not None:
        envelopes = fetch_publications(from_url, country, reg, ca_cert=ca_cert)
        with CoordinatorClient(from_url, verify=str(ca_cert) if ca_cert else True) as client:
            rounds = [
                client.round_envelope(r["round_id"], "announcement")
                for r in client.rounds()
                if country in r.get("contributed", [])
            ]
    else:
        assert from_inbox is not None
        envelopes = []
        for path in sorted(from_inbox.glob("*.dsse.json")):
            data = read_limited(path, MAX_ENVELOPE_BYTES)
            r: VerificationResult[Summary] = verification_result(data, reg, now=now())
            if r.ok and r.payload is not None and r.payload.country == country:
                envelopes.append(data)
        rounds = _contributed_rounds(from_inbox, reg, country)
    book = Ledger(ledger)
    before = len(book.entries(country))
    for data in envelopes:
        book.add(data)
    after = len(book.entries(country))
    charged = charge_from_log(rounds, registry=reg, country=country, ledger=book, now=now())
    out.print(
        f"{country}: {len(envelopes)} envelopes found, {after - before} new; "
        f"{len(rounds)} secure rounds it contributed to, {charged} newly charged -> {ledger}"
    )


def _contributed_rounds(inbox: Path, registry: TrustRegistry, country: str) -> list[bytes]:
    """The announcements of the rounds an inbox's log holds a contribution of ``country``
    to, as the door checked them (none when the copy has no log: envelopes only)."""
    if not log_folder(inbox).exists():
        return []
    log = TransparencyLog.read(log_folder(inbox), log_keys(registry))
    book, _ = read_rounds(inbox, registry, log, log.tree.size)
    layout = InboxLayout(inbox)
    return [
        read_limited(layout.envelope(r.digest, round_part=True), MAX_ENVELOPE_BYTES)
        for r in book.rounds.values()
        if country in r.contributions
    ]
