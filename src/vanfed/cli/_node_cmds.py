"""``vanfed summarize``, ``vanfed sign``, ``vanfed verify``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.progress import Progress

from vanfed._json import atomic_write, read_limited
from vanfed._node import METHODS, Node
from vanfed._run import Run
from vanfed.anonymize import Protected
from vanfed.cli._common import (
    AcceptQuality,
    MaxRejectRate,
    check_reject_rate,
    console,
    emit,
    load_registry,
    new_ledger,
    now,
    out,
    print_json,
    require_output,
    signing_key,
)
from vanfed.cli._plan import tables_without
from vanfed.cli._protection import protection_settings, write_protection_report
from vanfed.errors import InputError
from vanfed.schema import (
    DEFAULT_MAX_REJECT_RATE,
    CkmParams,
    DataQuality,
    Summary,
    expand_periods,
    load_mapping,
    load_summary,
    quality_issues,
)
from vanfed.signing import (
    MAX_ENVELOPE_BYTES,
    VerificationResult,
    envelope_digest,
    verification_result,
)

LedgerOption = Annotated[
    Path,
    typer.Option(
        envvar="VANFED_LEDGER",
        help="The node's publication ledger (every signed summary; new ones are protected "
        "jointly with it)",
    ),
]


def summarize(
    input_path: Annotated[Path, typer.Argument(metavar="INPUT")],
    mapping: Annotated[Path, typer.Option(help="Mapping TOML")],
    country: Annotated[str, typer.Option(help="ISO 3166-1 alpha-3")],
    period: Annotated[str, typer.Option(help="YYYY, YYYY-Qn, a range 2020..2024, or a comma list")],
    out_path: Annotated[
        Path, typer.Option("--out", help="Summary file; a folder when several periods")
    ],
    ledger: LedgerOption = Path("vanfed-ledger"),
    k: Annotated[int, typer.Option(help="Threshold: counts 1..k-1 are unsafe")] = 5,
    s: Annotated[int | None, typer.Option(help="Protection level (default k)")] = None,
    protect_zeros: bool = False,
    zero_return: Annotated[
        bool, typer.Option(help="Publish a period without records as zeros")
    ] = False,
    rejects: Annotated[Path | None, typer.Option(help="Rejects CSV")] = None,
    revision: Annotated[
        int | None, typer.Option(help="Default: the ledger's next revision of the period")
    ] = None,
    supersedes: Annotated[
        str | None,
        typer.Option(help="sha256:… of the envelope this revises, or that envelope's file"),
    ] = None,
    policy: Annotated[
        Path | None, typer.Option(help="Protection policy TOML (public margins, known cells)")
    ] = None,
    method: Annotated[
        str,
        typer.Option(
            help="heuristic (suppression), optimal (minimum-loss MILP within --time-limit) "
            "or ckm (cell key method: noise, nothing suppressed)"
        ),
    ] = "heuristic",
    time_limit: Annotated[float, typer.Option(help="Seconds for --method optimal")] = 60.0,
    loss: Annotated[str, typer.Option(help="What a hidden cell costs: value|cells|log_value")] = (
        "value"
    ),
    protection_report: Annotated[
        Path | None,
        typer.Option(help="Write the local protection report: FILE (JSON) and FILE.txt"),
    ] = None,
    record_keys: Annotated[
        Path | None,
        typer.Option(help="ckm: folder of the node's secret record keys (default: in the ledger)"),
    ] = None,
    registry: Annotated[
        Path | None,
        typer.Option(
            help="The registry: its policy's revision calendar (periods outside their "
            "windows are refused) and, for ckm, the noise it agrees on"
        ),
    ] = None,
    ckm_max_noise: Annotated[int, typer.Option(help="ckm: maximum noise D")] = 5,
    ckm_variance: Annotated[float, typer.Option(help="ckm: noise variance V")] = 3.0,
    ckm_js: Annotated[int, typer.Option(help="ckm: counts 1..js are never published")] = 4,
    drop_table: Annotated[
        list[str] | None,
        typer.Option(help="Leave a default table out (repeat; vanfed plan suggests one)"),
    ] = None,
    max_reject_rate: MaxRejectRate = DEFAULT_MAX_REJECT_RATE,
    accept_quality: AcceptQuality = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Ingest an export, protect its tables jointly with the ledger and write the summary.

    Each period is its own unit: the periods that can be published are written, each one
    refused is listed with its reason and next step, and the exit code is then 1. Refuses
    (exit 2) when a field is unknown for every record or more than
    --max-reject-rate of the rows were rejected, unless --accept-quality is given.
    """
    periods = expand_periods(period)
    if method not in METHODS:
        raise InputError(f"--method {method!r}: use one of {', '.join(METHODS)}")
    ckm = method == "ckm"
    suppression = "heuristic" if ckm else method
    settings = protection_settings(k, s, protect_zeros, policy, suppression, time_limit, loss)
    if ckm and protection_report is not None:
        raise InputError("--protection-report: --method ckm suppresses nothing; leave it out")
    fresh = new_ledger(ledger)
    node = Node(
        country,
        ledger=ledger,
        settings=settings,
        method=method if ckm else None,
        record_keys=record_keys,
        calendar=None if registry is None else load_registry(registry).policy.revisions,
        tables=tables_without(drop_table),
        **_ckm_options(method, registry, ckm_max_noise, ckm_variance, ckm_js),
    )
    protections: list[Protected] = []
    _check_outputs(periods, out_path, input_path, mapping, rejects)  # before any reading
    parent = supersedes
    if len(periods) == 1:  # ranges with a revision are refused by the run
        parent = node.supersedes_digest(period=periods[0], revision=revision, supersedes=supersedes)
    m = load_mapping(mapping)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"reading {input_path.name}", total=None)
        records = node.ingest(
            input_path, m, rejects=rejects, progress=lambda n: progress.update(task, completed=n)
        )
        progress.update(task, description="protecting tables (suppression + interval attack)")
        run = node.summarize_many(
            records,
            periods=periods,
            now=now(),
            revision=revision,
            supersedes=parent,
            allow_empty=zero_return,
            on_protected=protections.append,
        )
    if len(periods) == 1:
        run.raise_refused()  # one period: its refusal is the command's one-line error
    summaries = list(run)
    q = records.quality
    issues = sorted(
        {i for sm in summaries for i in _gate(sm, q, max_reject_rate, accept_quality)},
        key=lambda i: (not i[0].isdigit(), i),
    )
    if protection_report is not None:
        for summary, protected in zip(summaries, protections, strict=True):
            target = protection_report
            if len(periods) > 1:
                name = f"{target.stem}-{summary.period}{target.suffix}"
                target = target.with_name(name)
            write_protection_report(protected, target, as_json=as_json)
    written = []
    for summary in summaries:
        target = out_path
        if len(periods) > 1:
            target = out_path / f"{country.lower()}-{summary.period}-r{summary.revision}.json"
        atomic_write(target, summary.canonical_bytes())
        written.append(
            {
                "summary": str(target),
                "period": summary.period,
                "revision": summary.revision,
                "protection": summary.protection.to_json_obj(),
            }
        )
    if fresh and written:
        note_new_ledger(ledger, country)
    if as_json:
        print_json(
            {
                "country": country,
                "quality": q.to_json_obj(),
                "summaries": written,
                "refused": [r.to_json_obj() for r in run.refused],
                "accepted_quality_issues": issues,
                "rejects": str(rejects) if rejects else None,
            }
        )
        _exit_if_refused(run)
        return
    out.print(
        f"{input_path.name}: {q.records_read} rows read, {q.records_accepted} accepted, "
        f"{q.records_rejected} rejected" + (f" (see {rejects})" if rejects else "")
    )
    for issue in issues:
        out.print(f"accepted: {issue}", markup=False)
    _print_written(summaries, written, k)
    for r in run.refused:
        out.print(f"{r.period} r{r.revision}: refused ({r.reason}): {r.error}", markup=False)
    _exit_if_refused(run)


def _print_written(summaries: list[Summary], written: list[dict[str, Any]], k: int) -> None:
    """One line per summary written: its audit, or its noise."""
    for summary, entry in zip(summaries, written, strict=True):
        target = Path(entry["summary"])
        a, noise = summary.protection.audit, summary.protection.ckm
        if noise is not None:
            out.print(
                f"{summary.period} r{summary.revision}: {len(summary.tables)} tables, all "
                f"{a.published_cells} cells published with cell-key noise (D={noise.max_noise}, "
                f"V={noise.variance:g}, js={noise.js}; ptable {noise.ptable_digest[:19]}…); "
                f"margins are perturbed on their own, so tables do not add up -> {target}",
                markup=False,
            )
            continue
        within = summary.protection.total_within
        hidden = "" if within is None else f", total hidden in [{within.low}, {within.high}]"
        out.print(
            f"{summary.period} r{summary.revision}: audit passed with the ledger history "
            f"(k={k}, s={summary.protection.s}); {len(summary.tables)} tables, "
            f"{a.published_cells} cells published, {a.suppressed_cells} suppressed{hidden} "
            f"-> {target}"
        )


def _exit_if_refused(run: Run) -> None:
    """Exit 1 when a period of the run was refused (the others are written)."""
    if run.refused:
        written = len(run)
        console.print(
            f"vanfed: {len(run.refused)} of {written + len(run.refused)} periods refused "
            f"({', '.join(r.period for r in run.refused)}); {written} written",
            markup=False,
        )
        raise typer.Exit(1)


def _ckm_options(
    method: str, registry: Path | None, max_noise: int, variance: float, js: int
) -> dict[str, Any]:
    """Node keyword arguments for the cell key method's noise (the registry's, if given)."""
    if method != "ckm":
        return {}
    if registry is not None:
        agreed = load_registry(registry).policy.ckm
        if agreed is None:
            raise InputError(f"{registry}: the registry's policy agrees on no ckm noise")
        return {"agreed": agreed}
    try:
        return {"ckm": CkmParams(max_noise=max_noise, variance=variance, js=js)}
    except ValidationError as exc:
        err = exc.errors()[0]
        where = "--ckm-" + str(err["loc"][-1] if err["loc"] else "options").replace("_", "-")
        raise InputError(f"{where}: {err['msg']}") from exc


def sign(
    summary_path: Annotated[Path, typer.Argument(metavar="SUMMARY")],
    key: Annotated[Path, typer.Option(help="Private key PREFIX")],
    out_path: Annotated[Path, typer.Option("--out")],
    ledger: LedgerOption = Path("vanfed-ledger"),
    registry: Annotated[
        Path | None,
        typer.Option(help="The registry: its policy's revision calendar (refused outside it)"),
    ] = None,
    accept_quality: AcceptQuality = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Sign a summary into a DSSE envelope and keep it in the ledger (refused if the
    ledger's publications would expose it, if the registry's revision calendar does not
    allow it, or if a field is unknown for every record unless --accept-quality)."""
    require_output(out_path, summary_path)
    summary = load_summary(summary_path)
    issues = _gate(summary, None, DEFAULT_MAX_REJECT_RATE, accept_quality)
    calendar = None if registry is None else load_registry(registry).policy.revisions
    fresh = new_ledger(ledger)
    node = Node(summary.country, ledger=ledger, calendar=calendar)
    envelope = node.sign(summary, signing_key(key))
    atomic_write(out_path, envelope)
    if fresh:
        note_new_ledger(ledger, summary.country)
    emit(
        as_json,
        {
            "envelope": str(out_path),
            "digest": envelope_digest(envelope),
            "country": summary.country,
            "period": summary.period,
            "revision": summary.revision,
            "accepted_quality_issues": issues,
        },
        f"signed {summary.country} {summary.period} r{summary.revision} -> {out_path}",
    )


def _check_outputs(
    periods: list[str], out_path: Path, input_path: Path, mapping: Path, rejects: Path | None
) -> None:
    """Refuse, before the export is read, outputs that would replace an input or that
    cannot be written: one file per period, or a folder for several."""
    if len(periods) == 1:
        require_output(out_path, input_path, mapping, rejects)
    elif out_path.exists() and not out_path.is_dir():
        raise InputError(
            f"--out {out_path}: is a file; several periods are written into a folder, name one"
        )


def note_new_ledger(ledger: Path, country: str) -> None:
    """Say on stderr that a new ledger was started: a mistyped --ledger (or a command run
    from another folder) would otherwise protect against nothing published before."""
    console.print(
        f"note: no ledger at {ledger}: started a new one, so nothing {country} published "
        "before was taken into account (give --ledger DIR or VANFED_LEDGER if it has "
        "published from elsewhere)",
        markup=False,
    )


def _gate(
    summary: Summary, quality: DataQuality | None, max_rate: float, accept: bool
) -> list[str]:
    """The summary's quality issues; refuses (exit 2) unless the user accepted them."""
    check_reject_rate(max_rate)
    issues = quality_issues(summary, quality, max_reject_rate=max_rate)
    if issues and not accept:
        listed = "; ".join(f"({i}) {text}" for i, text in enumerate(issues, 1))
        raise InputError(
            f"{summary.country} {summary.period}: quality gate: {listed}; nothing written. "
            "Fix the mapping or export, or accept explicitly with --accept-quality"
        )
    return issues


def verify(
    files: Annotated[list[Path], typer.Argument(metavar="FILE...")],
    registry: Annotated[Path, typer.Option(help="Signed trust registry")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Verify summary envelopes against the registry; exit 0 all valid, 1 any invalid."""
    reg = load_registry(registry)
    t = now()
    results = []
    for f in files:
        data = read_limited(f, max(reg.policy.max_envelope_bytes, MAX_ENVELOPE_BYTES) + 1)
        r: VerificationResult[Summary] = verification_result(data, reg, now=t)
        results.append((f, r))
    if as_json:
        print_json([{"file": str(f), **r.to_json_obj()} for f, r in results])
    else:
        for f, r in results:
            if r.ok and r.payload is not None:
                out.print(
                    f"{f}: OK {r.payload.country} {r.payload.period} "
                    f"r{r.payload.revision} signed by {r.signer[:16] if r.signer else ''}…"
                )
            else:
                out.print(
                    f"{f}: INVALID " + "; ".join(f"{x.code}: {x.message}" for x in r.reasons),
                    markup=False,
                )
    if not all(r.ok for _, r in results):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(summarize)
    app.command()(sign)
    app.command()(verify)
