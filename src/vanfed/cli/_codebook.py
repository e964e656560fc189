"""``vanfed codebook``: the dimensions, codes and labels summaries are written in."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from vanfed.cli._common import JsonOpt, emit
from vanfed.schema import Codebook, Dimension, load_admin1_aliases, load_codebook


def codebook(
    country: Annotated[
        str | None, typer.Option(help="ISO3: also list its admin-1 codes and their aliases")
    ] = None,
    dimension: Annotated[str | None, typer.Option(help="Only this dimension")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List the codebook's dimensions, codes and labels (and a country's admin-1 units)."""
    cb = load_codebook()
    dims = [cb.dimension("country"), *cb.dimensions]
    if country is not None:
        dims.insert(1, cb.dimension("admin1", country))
    if dimension is not None:
        dims = [cb.dimension(dimension, country)]
    aliases = load_admin1_aliases().of(country) if country else {}
    obj = {
        "id": cb.id,
        "version": cb.version,
        "digest": cb.digest,
        "special_codes": cb.special_codes,
        "dimensions": [_dim_json(d, aliases) for d in dims],
    }
    emit(as_json, obj, *_lines(cb, dims, aliases))


def _dim_json(dim: Dimension, aliases: dict[str, str]) -> dict[str, Any]:
    codes = []
    for c in dim.codes:
        entry: dict[str, Any] = {"code": c.id, "label": c.label, "hxl": c.hxl}
        if c.children:
            entry["children"] = list(c.children)
        if dim.id == "admin1":
            entry["aliases"] = sorted(a for a, code in aliases.items() if code == c.id)
        codes.append(entry)
    return {"id": dim.id, "label": dim.label, "codes": codes}


def _lines(cb: Codebook, dims: list[Dimension], aliases: dict[str, str]) -> list[str]:
    lines = [f"codebook {cb.id} v{cb.version} ({cb.digest})"]
    lines += [f"special codes: {', '.join(f'{k} = {v}' for k, v in cb.special_codes.items())}"]
    for dim in dims:
        lines.append(f"\n{dim.id}: {dim.label}")
        width = max(len(c.id) for c in dim.codes)
        for c in dim.codes:
            extra = f"  (= {' + '.join(c.children)})" if c.children else ""
            if dim.id == "admin1":
                names = sorted(a for a, code in aliases.items() if code == c.id)
                extra = f"  also: {', '.join(names)}" if names else ""
            lines.append(f"  {c.id:<{width}}  {c.label}{extra}")
    if not any(d.id == "admin1" for d in dims):
        lines.append("\nadmin1: per country; list one with --country ISO3")
    return lines


def register(app: typer.Typer) -> None:
    app.command()(codebook)
