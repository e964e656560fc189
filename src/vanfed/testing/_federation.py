"""Synthetic member states that have published their national summaries: the starting point
of a secure round in tests and benchmarks."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from random import Random

from vanfed._ledger import Ledger
from vanfed._node import Node
from vanfed.ingest import CodedRecords
from vanfed.schema import Summary, load_mapping
from vanfed.signing import envelope_digest
from vanfed.synthetic import write_export
from vanfed.testing._trust import Trust

__all__ = ["Member", "members"]


@dataclass(frozen=True)
class Member:
    """One member state: its node (with ledger), records, and signed national summary."""

    country: str
    node: Node
    records: CodedRecords
    summary: Summary
    envelope: bytes

    @property
    def ledger(self) -> Ledger:
        assert self.node.ledger is not None
        return self.node.ledger

    @property
    def digest(self) -> str:
        """The national summary envelope's digest (what a round names)."""
        return envelope_digest(self.envelope)

    @property
    def participant(self) -> tuple[str, str, int]:
        """(country, summary digest, revision): this member as a round participant."""
        return (self.country, self.digest, self.summary.revision)


def members(
    folder: Path,
    trust: Trust,
    countries: tuple[str, ...],
    *,
    period: str,
    now: dt.datetime,
    seed: int = 7,
) -> dict[str, Member]:
    """Each country's synthetic export, ingested, summarised and signed into its ledger."""
    out = {}
    rng = Random(seed)
    year = int(period[:4])
    for c in countries:
        export = write_export(c, folder / "exports", years=range(year - 1, year + 1), seed=seed)
        node = Node(c, ledger=folder / "ledgers" / c)
        records = node.ingest(export.path, load_mapping(export.mapping_path), today=now.date())
        summary = node.summarize(records, period=period, now=now, rng=rng, allow_empty=True)
        envelope = node.sign(summary, trust.nodes[c])
        out[c] = Member(c, node, records, summary, envelope)
    return out
