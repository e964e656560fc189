"""``vanfed audit``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vanfed._audit import AuditVerdict
from vanfed._audit import audit as run_audit
from vanfed._mine import audit_mine
from vanfed.cli._common import JsonOpt, emit, load_registry, now, require_file
from vanfed.errors import InputError


def audit(
    report: Annotated[Path, typer.Argument(help="regional.dsse.json")],
    registry: Annotated[Path, typer.Option()],
    inputs: Annotated[
        Path | None, typer.Option(help="Folder of input envelopes (the inbox)")
    ] = None,
    receipts: Annotated[
        Path | None, typer.Option(help="Folder of node receipts to hold the log to")
    ] = None,
    mine: Annotated[
        list[Path] | None,
        typer.Option(help="Your receipt: check the report includes that submission (repeat)"),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Verify a regional report and recompute it from its inputs; exit 0 pass, 1 fail.

    With --mine RECEIPT alone, a node checks only that the report includes its receipted
    submission (no inbox needed); with --inputs too, the full audit runs as well.
    """
    require_file(report, "report")
    if inputs is None and not mine:
        raise InputError("audit: give --inputs (the full audit) and/or --mine RECEIPT")
    reg = load_registry(registry)
    verdicts: list[AuditVerdict] = []
    if inputs is not None:
        verdicts.append(
            run_audit(report, inputs=inputs, registry=reg, now=now(), receipts=receipts)
        )
    if mine:
        for receipt in mine:
            require_file(receipt, "receipt")
        verdicts.append(audit_mine(report, mine, registry=reg, now=now(), envelopes=inputs))
    ok = all(v.ok for v in verdicts)
    checked = [line for v in verdicts for line in v.checked]
    reasons = [r for v in verdicts for r in v.reasons]
    emit(
        as_json,
        {
            "ok": ok,
            "checked": checked,
            "reasons": [{"code": r.code, "message": r.message} for r in reasons],
        },
        *(f"ok: {line}" for line in checked),
        *(f"FAIL {r.code}: {r.message}" for r in reasons),
        "audit PASSED" if ok else "audit FAILED",
    )
    if not ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(audit)
