"""``vanfed plan``: what ``summarize`` would publish now, and the next safe step (no writes)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vanfed._node import Node
from vanfed._plan import PeriodPlan
from vanfed.anonymize import DEFAULT_TABLES, TableSpec
from vanfed.cli._common import (
    AcceptQuality,
    MaxRejectRate,
    check_reject_rate,
    console,
    emit,
    load_registry,
    new_ledger,
    now,
)
from vanfed.cli._protection import protection_settings
from vanfed.errors import NEXT, InputError
from vanfed.schema import DEFAULT_MAX_REJECT_RATE, expand_periods, load_mapping

__all__ = ["register", "tables_without"]


def tables_without(drop: list[str] | None) -> tuple[TableSpec, ...]:
    """The default tables without those named by ``--drop-table`` (each must exist)."""
    names = {t.name for t in DEFAULT_TABLES}
    for name in drop or []:
        if name not in names:
            raise InputError(f"--drop-table {name!r}: not a table; use one of {sorted(names)}")
    kept = tuple(t for t in DEFAULT_TABLES if t.name not in set(drop or []))
    if not kept:
        raise InputError("--drop-table: every table dropped, nothing would be published")
    return kept


def plan(
    input_path: Annotated[Path, typer.Argument(metavar="EXPORT")],
    mapping: Annotated[Path, typer.Option(help="Mapping TOML")],
    country: Annotated[str, typer.Option(help="ISO 3166-1 alpha-3")],
    period: Annotated[
        str | None,
        typer.Option(help="Periods to plan (as summarize); default the ledger's and the years"),
    ] = None,
    ledger: Annotated[
        Path, typer.Option(envvar="VANFED_LEDGER", help="The node's publication ledger")
    ] = Path("vanfed-ledger"),
    registry: Annotated[
        Path | None, typer.Option(help="The registry: its policy's revision calendar")
    ] = None,
    k: Annotated[int, typer.Option(help="Threshold: counts 1..k-1 are unsafe")] = 5,
    s: Annotated[int | None, typer.Option(help="Protection level (default k)")] = None,
    policy: Annotated[Path | None, typer.Option(help="Protection policy TOML")] = None,
    drop_table: Annotated[
        list[str] | None, typer.Option(help="Leave a default table out (repeat)")
    ] = None,
    max_reject_rate: MaxRejectRate = DEFAULT_MAX_REJECT_RATE,
    accept_quality: AcceptQuality = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Say, for each period, whether publishing now is safe, why not, how many more
    records it needs and the nearest safe alternative. Writes nothing; exit 0 when the
    plan is made (whatever it predicts), 2 on bad input."""
    settings = protection_settings(k, s, False, policy, "heuristic", 60.0, "value")
    # The plan writes nothing, not even the pinned trust root's advance to a newer registry.
    calendar = None if registry is None else load_registry(registry, advance=False).policy.revisions
    check_reject_rate(max_reject_rate)
    first = new_ledger(ledger)
    if first:  # a first publication: plan it without creating the ledger
        console.print(
            f"plan: no ledger at {ledger}: every period planned as a first publication "
            "(give --ledger DIR if the country has published before)",
            markup=False,
        )
    node = Node(
        country,
        ledger=None if first else ledger,
        settings=settings,
        calendar=calendar,
        tables=tables_without(drop_table),
    )
    records = node.ingest(input_path, load_mapping(mapping))
    periods = None if period is None else expand_periods(period)
    result = node.plan(records, now=now(), periods=periods, max_reject_rate=max_reject_rate)
    lines = [_line(p, accept_quality) for p in result.periods]
    emit(as_json, result.to_json_obj(), *lines)


def _line(p: PeriodPlan, accept_quality: bool = False) -> str:
    if p.zero_return or p.status == "final":
        return p.message
    if p.status == "safe":
        share = "" if p.published_share is None else f", {p.published_share:.0%} of cells shown"
        total = f", total {p.total}" + (
            f" in [{p.total_within.low}, {p.total_within.high}]" if p.total_within else ""
        )
        gate = ""
        if p.quality_gate and not accept_quality:
            listed = "; ".join(f"({i}) {text}" for i, text in enumerate(p.quality_gate, 1))
            gate = f"; summarize stops at the quality gate unless --accept-quality: {listed}"
        return f"{p.period} r{p.revision}: safe now{share}{total}{gate}"
    text = f"{p.period} r{p.revision}: refused ({p.reason}): {p.message}"
    if p.records_needed:
        text += f"; the cell needs up to {p.records_needed} more records"
    tried = "; ".join(a.description for a in p.alternatives if a.safe is not None)
    return text + f"{NEXT}{p.next_step}" + (f" [tried: {tried}]" if tried else "")


def register(app: typer.Typer) -> None:
    app.command()(plan)
