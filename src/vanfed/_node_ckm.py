"""The node's cell key method publications: sticky noise over its ledger, and signing them.

:class:`vanfed.Node` delegates here for ``method="ckm"``. For each period of a run: count
and draw as the cell key method does (:func:`vanfed.anonymize.perturb`); anchor every cell to
the year group's earlier CKM publications, whose private state the node keeps in
``LEDGER/ckm-cells`` (:mod:`vanfed.anonymize._ckm_sticky`); audit the change table and freeze
what the audit asks (:mod:`vanfed.anonymize._ckm_audit`); check the year group's rules
(:mod:`vanfed.aggregate._year_group`). Nothing is written unless every period of the run
passes, so a refusal leaves the ledger folder as it was.

Signing a CKM summary checks that it rests on exactly the publications its decisions were
made against (two summaries of a year group made before either was signed: the second
must be made again) and that it was made with at least the signing node's threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from random import Random
from typing import Protocol

import numpy as np

from vanfed._ledger import Ledger
from vanfed.aggregate._year_group import YearGroupRefusal, check_year_group
from vanfed.anonymize import RecordKeys, TableSpec, build_cube, build_ptable, cell_keys, perturb
from vanfed.anonymize import published_cubes as rebuild_cubes
from vanfed.anonymize._ckm_audit import protect_changes
from vanfed.anonymize._ckm_revisions import CKM_CELLS_FOLDER, CkmCells, CkmState, summary_digest
from vanfed.anonymize._ckm_sticky import CkmPub, candidate, pub_from_tables, tables_from_pub
from vanfed.anonymize._cube import Cube
from vanfed.anonymize._ptable import PTable
from vanfed.anonymize._tables import published_table, select_period
from vanfed.errors import InputError, ProtectionError, ReasonCode
from vanfed.ingest import CodedRecords
from vanfed.schema import (
    CkmParams,
    CkmRecord,
    Codebook,
    Protection,
    PublishedTable,
    Summary,
    period_years,
)


class Node(Protocol):
    """What this module reads of a :class:`vanfed.Node` (its settings, ledger and record
    keys; how it numbers revisions and builds a summary): a protocol, so that the node
    delegates here without the two importing each other."""

    country: str
    codebook: Codebook
    k: int
    method: str
    tables: tuple[TableSpec, ...]
    ckm: CkmParams
    agreed: CkmRecord | None
    ledger: Ledger | None
    record_keys: Path | None

    def _revision(
        self, period: str, revision: int | None, supersedes: str | None, n: int
    ) -> tuple[int, str | None]: ...

    def _summary(
        self,
        protection: Protection,
        tables: tuple[PublishedTable, ...],
        period: str,
        revision: int,
        supersedes: str | None,
        created: str,
        rng: Random | None,
    ) -> Summary: ...


__all__ = ["check_method", "check_signing", "ckm_summaries"]


def _refuse(message: str) -> ProtectionError:
    return ProtectionError(message, reason=ReasonCode.HISTORY_DISCLOSURE)


def check_method(node: Node, period: str, *, noisy: bool | None = None) -> None:
    """Refuse a summary with another method (``noisy``: CKM; default the node's) than the
    year group's publications in the ledger (checked before any work).

    Raises:
        ProtectionError: ``history_disclosure``, naming the method to use.
    """
    if node.ledger is None:
        return
    year = period_years(period)[0]
    noisy = node.method == "ckm" if noisy is None else noisy
    other = [
        e.summary
        for e in node.ledger.entries(node.country)
        if period_years(e.summary.period)[0] == year and e.summary.protection.perturbed != noisy
    ]
    if other:
        first = min(other, key=lambda s: (s.created_at, -len(s.period), s.period, s.revision))
        method = "the cell key method" if first.protection.perturbed else "suppression"
        raise _refuse(
            f"{node.country} {period}: {first.period} r{first.revision} was published with "
            f"{method}; a year and its quarters keep one method (exact cells beside noisy ones "
            f"of the same records reveal the noise): publish it with {method}"
        )


def _ptable(node: Node) -> PTable:
    ptable = build_ptable(node.ckm)
    if node.agreed is not None and ptable.record() != node.agreed:
        raise InputError(
            f"ckm: this machine's ptable for D={node.ckm.max_noise}, "
            f"V={node.ckm.variance:g}, js={node.ckm.js} ({ptable.digest[:19]}…) is not the "
            f"one the registry names ({node.agreed.ptable_digest[:19]}…)"
        )
    return ptable


def _ledger_pubs(node: Node, year: int) -> list[tuple[Summary, CkmPub]]:
    """The year group's CKM publications in the ledger with their kept state.

    Raises:
        ProtectionError: one of them has no kept state (its cells cannot keep numbers).
    """
    if node.ledger is None:
        return []
    cells = CkmCells(node.ledger.folder / CKM_CELLS_FOLDER)
    out = []
    for e in node.ledger.entries(node.country):
        s = e.summary
        if period_years(s.period)[0] != year or not s.protection.perturbed:
            continue
        state = cells.load(s)
        if state is None:
            raise _refuse(
                f"{node.country} {s.period} r{s.revision}: its true counts and cell keys are "
                "not kept in this ledger (made by another node or without --ledger), so the "
                "year's cells cannot keep their numbers; restore LEDGER/ckm-cells from backup"
            )
        out.append((s, _pub(node, s, state)))
    return out


def _pub(node: Node, summary: Summary, state: CkmState) -> CkmPub:
    by_name = {t.name: t for t in state.tables}
    if set(by_name) != {t.name for t in summary.tables}:
        raise InputError(f"{summary_digest(summary)}: kept cells do not match the summary")
    cubes = rebuild_cubes(summary.tables, node.codebook, summary.country)
    return pub_from_tables(
        summary.period,
        summary.revision,
        summary.created_at,
        cubes,
        [by_name[t.name] for t in summary.tables],
        k=state.k,
        max_noise=state.max_noise,
    )


def _parts(
    records: CodedRecords, node: Node, period: str, keys: np.ndarray
) -> tuple[list[list[Cube]], list[list[np.ndarray]]]:
    """Per quarter the period's records fall in: its cubes and cell keys."""
    year, quarter = period_years(period)
    quarters = [quarter] if quarter is not None else [1, 2, 3, 4]
    cubes, ckeys = [], []
    for q in quarters:
        mask = select_period(records, f"{year}-Q{q}", allow_empty=True)
        cubes.append([build_cube(records, spec, node.codebook, mask) for spec in node.tables])
        ckeys.append([cell_keys(records, spec, node.codebook, keys, mask) for spec in node.tables])
    return cubes, ckeys


def ckm_summaries(
    node: Node,
    records: CodedRecords,
    periods: Sequence[str],
    revision: int | None,
    supersedes: str | None,
    created: str,
    rng: Random | None,
    allow_empty: bool = False,
) -> list[Summary]:
    """One CKM summary per period (in the order given: quarters before their year), each
    anchored to what the ledger and the run's earlier periods published.

    Raises:
        InputError: records without ids, a ptable other than the registry's.
        ProtectionError: ``history_disclosure``: a year-group rule, or kept cells missing.
    """
    if records.ids is None:
        raise InputError(
            f"{records.source or 'records'}: the cell key method needs a record id "
            "(map [fields.record_id] and ingest with this node): keys follow records "
            "across revisions"
        )
    assert node.record_keys is not None
    store = RecordKeys(node.record_keys)  # one for all periods: a record has one key
    run = _Run(node, records, store.keys_for(records.ids, rng=rng, save=False), _ptable(node))
    ledger: dict[int, list[tuple[Summary, CkmPub]]] = {}
    made: list[tuple[Summary, CkmPub, CkmState]] = []
    for period in periods:
        year = period_years(period)[0]
        if year not in ledger:
            ledger[year] = _ledger_pubs(node, year)
        rev, parent = node._revision(period, revision, supersedes, len(periods))
        before = ledger[year] + [(s, p) for s, p, _ in made if period_years(s.period)[0] == year]
        pub, cubes, protection = run.protect(
            period, rev, created, [p for _, p in before], allow_empty
        )
        tables = tuple(
            published_table(cube, [int(v) for v in pub.values[cv.ravel()]])
            for cube, cv in zip(cubes, pub.system.cell_var, strict=True)
        )
        summary = node._summary(protection, tables, period, rev, parent, created, rng)
        if node.ledger is not None:
            try:
                check_year_group(summary, [s for s, _ in before])
            except YearGroupRefusal as exc:
                raise _refuse(str(exc)) from exc
        basis = tuple(sorted(summary_digest(s) for s, _ in before))
        filters = [tuple(sorted(c.spec.filter.items())) for c in cubes]
        kept = tables_from_pub(pub, cubes, filters)
        made.append((summary, pub, CkmState(node.k, run.ptable.params.max_noise, basis, kept)))
    store.save()
    if node.ledger is not None:
        cells = CkmCells(node.ledger.folder / CKM_CELLS_FOLDER)
        for summary, _, state in made:
            cells.save(summary, state)
    return [summary for summary, _, _ in made]


@dataclass(frozen=True)
class _Run:
    """One run's records, their keys and the ptable."""

    node: Node
    records: CodedRecords
    keys: np.ndarray
    ptable: PTable

    def protect(
        self,
        period: str,
        revision: int,
        created: str,
        earlier: Sequence[CkmPub],
        allow_empty: bool,
    ) -> tuple[CkmPub, tuple[Cube, ...], Protection]:
        """Draw the period, anchor it to ``earlier``, audit and freeze: the decided
        publication, its true cubes and its protection record."""
        node = self.node
        done = perturb(
            self.records, node.codebook, period=period, keys=self.keys, ptable=self.ptable,
            tables=node.tables, allow_empty=allow_empty,
        )  # fmt: skip
        part_cubes, part_keys = _parts(self.records, node, period, self.keys)
        cand = candidate(
            period=period, revision=revision, snapshot=created, k=node.k, ptable=self.ptable,
            cubes=done.cubes, key_cubes=done.keys, part_cubes=part_cubes,
            part_key_cubes=part_keys, earlier=earlier,
        )  # fmt: skip
        return protect_changes(cand, earlier).pub, done.cubes, done.protection()


def check_signing(node: Node, summary: Summary) -> None:
    """A CKM summary may be signed into the ledger only if it rests on exactly the year
    group's publications already in it, with at least this node's threshold.

    Raises:
        ProtectionError: ``history_disclosure``, saying what to do.
    """
    assert node.ledger is not None
    group = _signed_group(node, summary)
    label = f"{summary.country} {summary.period} r{summary.revision}"
    state = CkmCells(node.ledger.folder / CKM_CELLS_FOLDER).load(summary)
    if state is None:
        if not group:
            return  # a first publication of its year group: nothing anchors it
        latest = group[-1]
        raise _refuse(
            f"{label}: its true counts and cell keys are not kept in this ledger (made by "
            f"another node or without --ledger), so its cells cannot be shown to keep the "
            f"numbers of {latest.period} r{latest.revision}; summarize it again with this ledger"
        )
    if state.k < node.k:
        raise _refuse(
            f"{label}: made with k = {state.k}, below this node's k = {node.k}; summarize it "
            "again with this node"
        )
    have = {summary_digest(s): s for s in group}
    missing = sorted(set(state.basis) - set(have))
    if missing:
        raise _refuse(
            f"{label}: made together with a summary not yet signed into this ledger "
            f"({missing[0][:19]}…, e.g. a quarter of the same run); sign that one first"
        )
    newer = [have[d] for d in sorted(set(have) - set(state.basis))]
    if newer:
        raise _refuse(
            f"{label}: {newer[0].period} r{newer[0].revision} was signed after it was made, "
            "so its cells do not keep that publication's numbers; summarize it again"
        )


def _signed_group(node: Node, summary: Summary) -> list[Summary]:
    """The CKM publications of the summary's year group in the ledger, itself left out."""
    assert node.ledger is not None
    own = summary_digest(summary)
    year = period_years(summary.period)[0]
    return [
        e.summary
        for e in node.ledger.entries(summary.country)
        if period_years(e.summary.period)[0] == year
        and e.summary.protection.perturbed
        and summary_digest(e.summary) != own
    ]
