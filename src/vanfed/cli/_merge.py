"""``vanfed merge``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vanfed._audit_checks import verified_report
from vanfed._coordinator import Coordinator
from vanfed._json import atomic_write
from vanfed.cli._common import (
    LANG_HELP,
    JsonOpt,
    emit,
    languages,
    load_registry,
    now,
    out,
    signing_key,
)
from vanfed.errors import ReasonCode, VerificationError
from vanfed.report import render_pdf, render_trends
from vanfed.schema import RegionalReport, TrustRegistry, load_codebook


def merge(
    inbox: Annotated[Path, typer.Argument()],
    registry: Annotated[Path, typer.Option()],
    key: Annotated[Path, typer.Option(help="Coordinator private key PREFIX")],
    period: Annotated[str, typer.Option()],
    out_dir: Annotated[Path, typer.Option("--out")],
    lang: Annotated[list[str] | None, typer.Option("--lang", help=LANG_HELP)] = None,
    pdf: Annotated[
        bool, typer.Option("--pdf", help="Also print report.pdf with headless Chromium")
    ] = False,
    secure: Annotated[
        bool,
        typer.Option(
            help="Take the region rows from the newest complete secure round of the period "
            "that matches the inputs (--no-secure: the national publications alone)"
        ),
    ] = True,
    as_json: JsonOpt = False,
) -> None:
    """Merge the inbox's current summaries into a signed regional report.

    Writes regional.dsse.json, regional.json, regional.csv (HXL, long layout),
    regional.xlsx, report.html (English) and report.<lang>.html per extra --lang.
    """
    langs = languages(lang, ("en",))
    coord = Coordinator(load_registry(registry), signing_key(key))
    result = coord.merge(inbox, period=period, now=now(), langs=langs, pdf=pdf, secure=secure)
    result.write(out_dir)
    cov = result.report.coverage
    skipped = (*result.report.skipped, *result.outside_log)
    rec = result.report.secure
    emit(
        as_json,
        {
            "period": period,
            "out": str(out_dir),
            "coverage": cov.to_json_obj(),
            "skipped": [s.to_json_obj() for s in skipped],
            "secure": None if rec is None else rec.to_json_obj(),
        },
        f"regional report {period}: {', '.join(cov.countries) or 'no countries'}; "
        f"missing: {', '.join(cov.missing)} -> {out_dir}",
        *(f"  skipped {s.file}: {s.reason}: {s.message}" for s in skipped),
        *(
            []
            if rec is None
            else [
                f"  region rows of {len(rec.tables)} tables from secure round {rec.round_id} "
                f"({', '.join(rec.participants)})",
                *(f"  national path for {w.table}: {w.reason}: {w.message}" for w in rec.withheld),
            ]
        ),
    )


def trends(
    reports: Annotated[list[Path], typer.Argument(help="Signed regional reports (.dsse.json)")],
    registry: Annotated[Path, typer.Option()],
    out_file: Annotated[Path, typer.Option("--out", help="The HTML page to write")],
    lang: Annotated[str, typer.Option("--lang", help="en, km, lo, th or vi")] = "en",
    pdf: Annotated[bool, typer.Option("--pdf", help="Also print it to PDF beside")] = False,
) -> None:
    """Casualties over several periods from signed regional reports (one per period)."""
    reg = load_registry(registry)
    verified = [_verified(p, reg) for p in reports]
    page = render_trends(verified, load_codebook(), lang=languages([lang], ("en",))[0])
    atomic_write(out_file, page)
    if pdf:
        atomic_write(out_file.with_suffix(".pdf"), render_pdf(page))
    periods = ", ".join(sorted(r.period for r in verified))
    out.print(f"trends over {periods} -> {out_file}", markup=False)


def _verified(path: Path, registry: TrustRegistry) -> RegionalReport:
    """A signed regional report whose coordinator signature verifies (one home: the audit's)."""
    report, _, failed = verified_report(path, registry, now())
    if report is None:
        raise VerificationError("; ".join(r.message for r in failed), (ReasonCode.REPORT_INVALID,))
    return report


def register(app: typer.Typer) -> None:
    app.command()(merge)
    app.command()(trends)
