"""``vanfed merge``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vanfed._coordinator import Coordinator
from vanfed.cli._common import load_registry, now, out, signing_key


def merge(
    inbox: Annotated[Path, typer.Argument()],
    registry: Annotated[Path, typer.Option()],
    key: Annotated[Path, typer.Option(help="Coordinator private key PREFIX")],
    period: Annotated[str, typer.Option()],
    out_dir: Annotated[Path, typer.Option("--out")],
) -> None:
    """Merge the inbox's current summaries into a signed regional report."""
    coord = Coordinator(load_registry(registry), signing_key(key))
    result = coord.merge(inbox, period=period, now=now())
    result.write(out_dir)
    cov = result.report.coverage
    out.print(
        f"regional report {period}: {', '.join(cov.countries) or 'no countries'}; "
        f"missing: {', '.join(cov.missing)} -> {out_dir}"
    )
    for s in result.report.skipped:
        out.print(f"  skipped {s.file}: {s.reason}: {s.message}", markup=False)


def register(app: typer.Typer) -> None:
    app.command()(merge)
