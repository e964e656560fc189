"""``vanfed audit``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vanfed._audit import audit as run_audit
from vanfed.cli._common import load_registry, now, out, require_file


def audit(
    report: Annotated[Path, typer.Argument(help="regional.dsse.json")],
    inputs: Annotated[Path, typer.Option(help="Folder of input envelopes")],
    registry: Annotated[Path, typer.Option()],
    receipts: Annotated[
        Path | None, typer.Option(help="Folder of node receipts to hold the log to")
    ] = None,
) -> None:
    """Verify a regional report and recompute it from its inputs; exit 0 pass, 1 fail."""
    verdict = run_audit(
        require_file(report, "report"),
        inputs=inputs,
        registry=load_registry(registry),
        now=now(),
        receipts=receipts,
    )
    for line in verdict.checked:
        out.print(f"ok: {line}", markup=False)
    for r in verdict.reasons:
        out.print(f"FAIL {r.code}: {r.message}", markup=False)
    out.print("audit PASSED" if verdict.ok else "audit FAILED")
    if not verdict.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(audit)
