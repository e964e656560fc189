"""``vanfed mapping init``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from vanfed.ingest import scaffold_mapping

app = typer.Typer(no_args_is_help=True, help="Draft and check mapping files.")


@app.command()
def init(
    input_path: Annotated[Path, typer.Argument(metavar="INPUT")],
    country: Annotated[str | None, typer.Option(help="ISO3, to guess admin-1 codes")] = None,
) -> None:
    """Print a draft mapping (TOML) for an export; review every guess it lists."""
    sys.stdout.write(scaffold_mapping(input_path, country=country))
