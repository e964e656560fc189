"""``vanfed summarize``, ``vanfed sign``, ``vanfed verify``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress

from vanfed._json import atomic_write, loads_strict, read_limited
from vanfed._node import Node
from vanfed.cli._common import console, load_registry, now, out, print_json, signing_key
from vanfed.schema import Summary, load_mapping
from vanfed.signing import MAX_ENVELOPE_BYTES, VerificationResult, verification_result

MAX_SUMMARY_BYTES = 64 * 1024 * 1024


def summarize(
    input_path: Annotated[Path, typer.Argument(metavar="INPUT")],
    mapping: Annotated[Path, typer.Option(help="Mapping TOML")],
    country: Annotated[str, typer.Option(help="ISO 3166-1 alpha-3")],
    period: Annotated[str, typer.Option(help="YYYY or YYYY-Qn")],
    out_path: Annotated[Path, typer.Option("--out")],
    k: Annotated[int, typer.Option(help="Threshold: counts 1..k-1 are unsafe")] = 5,
    s: Annotated[int | None, typer.Option(help="Protection level (default k)")] = None,
    protect_zeros: bool = False,
    rejects: Annotated[Path | None, typer.Option(help="Rejects CSV")] = None,
    revision: int = 1,
    supersedes: Annotated[
        str | None, typer.Option(help="sha256:… of the envelope this revises")
    ] = None,
) -> None:
    """Ingest an export, protect its tables (audit must pass) and write the summary."""
    node = Node(country, k=k, s=s, protect_zeros=protect_zeros)
    m = load_mapping(mapping)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"reading {input_path.name}", total=None)
        records = node.ingest(
            input_path, m, rejects=rejects, progress=lambda n: progress.update(task, completed=n)
        )
        progress.update(task, description="protecting tables (suppression + interval attack)")
        summary = node.summarize(
            records, period=period, now=now(), revision=revision, supersedes=supersedes
        )
    atomic_write(out_path, summary.canonical_bytes())
    q, a = summary.quality, summary.protection.audit
    out.print(
        f"{input_path.name}: {q.records_read} rows read, {q.records_accepted} accepted, "
        f"{q.records_rejected} rejected" + (f" (see {rejects})" if rejects else "")
    )
    out.print(
        f"{len(summary.tables)} tables: {a.published_cells} cells published, "
        f"{a.suppressed_cells} suppressed; interval-attack audit passed (k={k}, "
        f"s={summary.protection.s}) -> {out_path}"
    )


def sign(
    summary_path: Annotated[Path, typer.Argument(metavar="SUMMARY")],
    key: Annotated[Path, typer.Option(help="Private key PREFIX")],
    out_path: Annotated[Path, typer.Option("--out")],
) -> None:
    """Sign a summary into a DSSE envelope."""
    data = read_limited(summary_path, MAX_SUMMARY_BYTES)
    summary = Summary.model_validate(loads_strict(data, subject=str(summary_path)))
    atomic_write(out_path, Node.sign(summary, signing_key(key)))
    out.print(f"signed {summary.country} {summary.period} r{summary.revision} -> {out_path}")


def verify(
    files: Annotated[list[Path], typer.Argument(metavar="FILE...")],
    registry: Annotated[Path, typer.Option(help="Signed trust registry")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Verify summary envelopes against the registry; exit 0 all valid, 1 any invalid."""
    reg = load_registry(registry)
    t = now()
    results = []
    for f in files:
        data = read_limited(f, max(reg.policy.max_envelope_bytes, MAX_ENVELOPE_BYTES) + 1)
        r: VerificationResult[Summary] = verification_result(data, reg, now=t)
        results.append((f, r))
    if as_json:
        print_json([{"file": str(f), **r.to_json_obj()} for f, r in results])
    else:
        for f, r in results:
            if r.ok and r.payload is not None:
                out.print(
                    f"{f}: OK {r.payload.country} {r.payload.period} "
                    f"r{r.payload.revision} signed by {r.signer[:16] if r.signer else ''}…"
                )
            else:
                out.print(
                    f"{f}: INVALID " + "; ".join(f"{x.code}: {x.message}" for x in r.reasons),
                    markup=False,
                )
    if not all(r.ok for _, r in results):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(summarize)
    app.command()(sign)
    app.command()(verify)
