"""``vanfed mapping init`` and ``vanfed mapping check``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from vanfed.cli._common import out, print_json
from vanfed.errors import InputError
from vanfed.ingest import MappingCheck, check_mapping, scaffold_mapping

app = typer.Typer(no_args_is_help=True, help="Draft and check mapping files.")


@app.command()
def init(
    input_path: Annotated[Path, typer.Argument(metavar="INPUT")],
    country: Annotated[str | None, typer.Option(help="ISO3, to guess admin-1 codes")] = None,
) -> None:
    """Print a draft mapping (TOML) for an export; review every guess it lists."""
    sys.stdout.write(scaffold_mapping(input_path, country=country))


@app.command()
def check(
    input_path: Annotated[Path, typer.Argument(metavar="INPUT")],
    mapping: Annotated[Path, typer.Option(help="Mapping TOML")],
    country: Annotated[str, typer.Option(help="ISO 3166-1 alpha-3")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Dry run: per field the column, rows per code (with labels), every warning and error."""
    report = check_mapping(input_path, mapping, country=country)
    if as_json:
        print_json(report.to_json_obj())
    else:
        _print(report, mapping)
    if not report.ok:
        raise InputError(
            f"{mapping}: {len(report.errors)} problem(s) listed above; nothing was written"
        )


def _print(report: MappingCheck, mapping: Path) -> None:
    out.print(f"{report.source}: {report.rows} rows checked against {mapping.name}", markup=False)
    for f in report.fields:
        out.print(f"\n{f.field} <- column {f.column!r}", markup=False)
        width = max((len(c) for c in f.codes), default=0)
        for code, n in sorted(f.codes.items(), key=lambda kv: -kv[1]):
            label = f.labels.get(code, "")
            out.print(f"    {code:<{width}}  {n:>8}  {label}".rstrip(), markup=False)
        for reason, n in sorted(f.problems.items()):
            out.print(f"    {reason}: {n} rows rejected", markup=False)
    if report.unused_columns:
        out.print(f"\ncolumns not read: {', '.join(report.unused_columns)}", markup=False)
    for title, items in (("warnings", report.warnings), ("errors", report.errors)):
        if items:
            out.print(f"\n{title} ({len(items)}):", markup=False)
            for item in items:
                out.print(f"  - {item}", markup=False, soft_wrap=True)
    if report.ok:
        out.print("\nmapping OK" + (" (with warnings)" if report.warnings else ""))
