"""``vanfed schema``."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import BaseModel

from vanfed.cli._common import print_json
from vanfed.errors import InputError
from vanfed.schema import Mapping, Receipt, RegionalReport, Summary, TrustRegistry

MODELS: dict[str, type[BaseModel]] = {
    "summary": Summary,
    "report": RegionalReport,
    "registry": TrustRegistry,
    "mapping": Mapping,
    "receipt": Receipt,
}


def schema(
    name: Annotated[str, typer.Argument(help="summary | report | registry | mapping | receipt")],
) -> None:
    """Print the JSON Schema of a public model."""
    if name not in MODELS:
        raise InputError(f"schema {name!r}: use one of {', '.join(MODELS)}")
    print_json(MODELS[name].model_json_schema())


def register(app: typer.Typer) -> None:
    app.command()(schema)
