"""Synthetic member states that have published their national summaries, and secure rounds
among them in memory: the starting point of the secure path's tests and benchmarks."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from random import Random

from vanfed._ledger import Ledger
from vanfed._node import Node
from vanfed.anonymize import DEFAULT_TABLES
from vanfed.ingest import CodedRecords
from vanfed.schema import RoundAnnouncement, RoundTable, Summary, load_codebook, load_mapping
from vanfed.secure import RoundBook, contribute, open_round, regional_tables
from vanfed.signing import ANNOUNCEMENT_PROFILE, CONTRIBUTION_PROFILE, envelope_digest, verify
from vanfed.synthetic import write_export
from vanfed.testing._trust import Trust

__all__ = ["Member", "announce", "members", "run_round"]


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


def announce(
    trust: Trust,
    group: dict[str, Member],
    *,
    now: dt.datetime,
    seed: str = "round",
    hours: float = 24,
    tables: Sequence[RoundTable] | None = None,
    **kw: object,
) -> bytes:
    """The coordinator's signed announcement of a round among ``group`` over ``tables``
    (default: the regional layout of the default tables), its id from ``seed``; ``kw`` goes
    to :func:`vanfed.secure.open_round`."""
    cb = load_codebook()
    return open_round(
        trust.registry,
        trust.coordinator,
        period="2024",
        participants=[m.participant for m in group.values()],
        tables=regional_tables(DEFAULT_TABLES, cb) if tables is None else tables,
        codebook=cb,
        now=now,
        deadline=now + dt.timedelta(hours=hours),
        rng=Random(seed),
        **kw,  # type: ignore[arg-type]
    )


def run_round(
    trust: Trust,
    group: dict[str, Member],
    announcement: bytes,
    *,
    now: dt.datetime,
    seed: str | None = None,
) -> tuple[RoundAnnouncement, RoundBook]:
    """Every member contributes (noise from ``seed``, else the OS) and a book of the round
    takes each contribution through the door's checks: the announcement and the book."""
    cb = load_codebook()
    ann = verify(announcement, trust.registry, now=now, profile=ANNOUNCEMENT_PROFILE)
    book = RoundBook()
    book.announce(ann, envelope_digest(announcement), 0)
    for i, (c, m) in enumerate(group.items(), 1):
        rand = secrets.randbelow if seed is None else Random(f"{seed}{c}").randrange
        env = contribute(
            announcement, registry=trust.registry, codebook=cb, records=m.records,
            signer=trust.nodes[c], agreement=trust.agreements[c], ledger=m.ledger, now=now,
            rand=rand,
        )  # fmt: skip
        item = verify(env, trust.registry, now=now, profile=CONTRIBUTION_PROFILE)
        refusal = book.rounds[ann.round_id].refusal(item, envelope_digest(env), now)
        if refusal is not None:
            raise AssertionError(f"the door refuses {c}'s contribution: {refusal}")
        book.contribute(item, envelope_digest(env), i)
    return ann, book
