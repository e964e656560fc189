"""``vanfed demo``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from vanfed._demo import DEMO_PASSPHRASE, run_demo
from vanfed.cli._common import LANG_HELP, languages, now, out
from vanfed.report import LANGUAGES
from vanfed.schema import InboxLayout


def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for every artifact")] = Path(
        "vanfed-demo"
    ),
    seed: Annotated[int, typer.Option(help="Seed for the synthetic data")] = 2024,
    period: Annotated[str, typer.Option(help="Period to summarise")] = "2024",
    http: Annotated[
        bool, typer.Option("--http", help="Deliver through a real `vanfed serve` on 127.0.0.1")
    ] = False,
    lang: Annotated[list[str] | None, typer.Option("--lang", help=LANG_HELP)] = None,
    pdf: Annotated[
        bool, typer.Option("--pdf", help="Also print report.pdf with headless Chromium")
    ] = False,
    secure: Annotated[
        bool,
        typer.Option(
            "--secure",
            help="Also run a secure round among the nodes (masked counts, distributed noise); "
            "the region rows come from it",
        ),
    ] = False,
) -> None:
    """Run a synthetic ASEAN federation end to end: nodes → coordinator → audit."""
    langs = languages(lang, LANGUAGES)
    command = (sys.executable, "-m", "vanfed")  # the CLI names how to run itself
    result = run_demo(
        out_dir,
        now=now(),
        seed=seed,
        period=period,
        http=http,
        serve_command=command,
        langs=langs,
        pdf=pdf,
        secure=secure,
    )
    table = Table(title=f"vanfed demo — period {period}")
    for col in (
        "country",
        "export",
        "read",
        "accepted",
        "rejected",
        "cells published",
        "cells suppressed",
    ):
        table.add_column(col, justify="left" if col in ("country", "export") else "right")
    for r in result.rows:
        table.add_row(
            str(r["country"]),
            str(r["file"]),
            str(r["read"]),
            str(r["accepted"]),
            str(r["rejected"]),
            str(r["published"]),
            str(r["suppressed"]),
        )
    out.print(table)
    out.print(f"Delivery: {result.delivery}; every submission logged and receipted.")
    rec = result.regional.report.secure if result.regional else None
    if rec is not None:
        out.print(
            f"Secure round {rec.round_id}: {len(rec.contributions)} masked contributions "
            f"({', '.join(rec.participants)}); no one saw another country's counts. Region rows "
            f"of {len(rec.tables)} tables are noisy sums (Skellam, variance {rec.noise.variance:g} "
            f"per inner cell), post-processed into integers that add up.",
            markup=False,
        )
    verdict = result.verdict
    assert verdict is not None and result.regional is not None
    cov = result.regional.report.coverage
    out.print(
        f"Regional report for {period}: {len(cov.countries)} countries "
        f"({', '.join(cov.countries)}); not reporting: {', '.join(cov.missing)}."
    )
    out.print(
        f"Audit: {'PASSED' if verdict.ok else 'FAILED'} — "
        + "; ".join(verdict.checked if verdict.ok else [r.message for r in verdict.reasons])
    )
    base = out_dir
    out.print("Open:")
    out.print(f"  {base / 'regional' / 'report.html'}   the regional report (charts, tables)")
    out.print(f"  {base / 'regional' / 'regional.csv'}  HXL-tagged CSV (long layout)")
    out.print(f"  {base / 'regional' / 'regional.xlsx'}  workbook for ministries")
    if len(langs) > 1 or pdf:
        out.print(f"  {base / 'regional'}/report.<lang>.html|pdf  {', '.join(langs)}")
    out.print(f"  {base / 'regional' / 'regional.dsse.json'}  signed report (DSSE)")
    out.print(f"  {base / 'inbox'}/  signed national summaries;  {base / 'nodes'}/*/rejects.csv")
    out.print(f"  {InboxLayout(base / 'inbox').log}/  the transparency log;  {base / 'receipts'}/")
    out.print(f"Demo keys are encrypted with the passphrase '{DEMO_PASSPHRASE.decode()}'.")
    out.print(
        f"The demo registry's trust root: export VANFED_TRUST_ROOT={base / 'trust-root.json'}"
    )
    if not verdict.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(demo)
