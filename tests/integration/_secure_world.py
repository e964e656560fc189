"""Five synthetic member states, their national publications and secure rounds — and what
the attacker of ``tests/secure_attacker.py`` is given (publications, rounds, colluders'
knowledge) and what only the test knows (the truth).

Everything goes through vanfed's real paths: ``Node`` with its ledger (national summaries
protected jointly with the history, signed, kept), ``open_round``, ``contribute`` (checks,
budget, noise, masks, signature), a ``RoundBook`` at the coordinator (its checks, its sums).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from random import Random

import numpy as np
from tests.secure_attacker import Cell, Insider, Key, Observation, cells, draw, observed

from vanfed import Node
from vanfed._ledger import Ledger
from vanfed.anonymize import DEFAULT_TABLES, build_cube, select_period
from vanfed.ingest import CodedRecords
from vanfed.schema import (
    MODULUS,
    Contribution,
    RoundAnnouncement,
    RoundResult,
    Summary,
    load_codebook,
    load_mapping,
)
from vanfed.secure import RoundBook, contribute, open_round, regional_tables, round_counts
from vanfed.secure._masks import mask_sum
from vanfed.signing import (
    ANNOUNCEMENT_PROFILE,
    CONTRIBUTION_PROFILE,
    envelope_digest,
    verify,
)
from vanfed.synthetic import write_export
from vanfed.testing import NOW, Trust

CB = load_codebook()
COUNTRIES = ("KHM", "LAO", "MMR", "THA", "VNM")
TABLES = regional_tables(DEFAULT_TABLES, CB)


def subset(rec: CodedRecords, keep: np.ndarray) -> CodedRecords:
    return CodedRecords(
        rec.country, {f: v[keep] for f, v in rec.fields.items()}, rec.codes, rec.quality, rec.source
    )


@dataclass
class Pub:
    """One national publication and the records it was made from."""

    summary: Summary
    envelope: bytes
    records: CodedRecords

    @property
    def digest(self) -> str:
        return envelope_digest(self.envelope)


@dataclass
class Member:
    country: str
    node: Node
    records: CodedRecords  # everything the node has
    arrival: np.ndarray  # when each record reached the node (for revisions), in [0, 1)
    pubs: list[Pub] = field(default_factory=list)

    def latest(self, period: str) -> Pub:
        return max(
            (p for p in self.pubs if p.summary.period == period),
            key=lambda p: p.summary.revision,
        )


@dataclass
class RoundRun:
    """One round as the coordinator holds it."""

    announcement: RoundAnnouncement
    digest: str
    result: RoundResult
    contributions: dict[str, Contribution]
    envelope: bytes  # the announcement's
    envelopes: dict[str, bytes]  # each contribution's


class World:
    """The member states, their publications and rounds, and the truth."""

    def __init__(
        self, folder: Path, trust: Trust, *, seed: int = 7, countries: tuple[str, ...] = COUNTRIES
    ) -> None:
        self.trust, self.folder, self.seed = trust, folder, seed
        self.members: dict[str, Member] = {}
        for c in countries:
            export = write_export(c, folder / "exports", years=range(2023, 2025), seed=seed)
            node = Node(c, ledger=folder / "ledgers" / c)
            rec = node.ingest(export.path, load_mapping(export.mapping_path), today=NOW.date())
            arrival = np.random.default_rng([seed, len(c), ord(c[0])]).random(len(rec))
            self.members[c] = Member(c, node, rec, arrival)
        self.rounds: list[RoundRun] = []
        self.clock = NOW

    def tick(self) -> dt.datetime:
        self.clock += dt.timedelta(hours=1)
        return self.clock

    # --- national publications ---------------------------------------------------------

    def publish(
        self, period: str, *, share: float = 1.0, countries: tuple[str, ...] | None = None
    ) -> None:
        """Each country publishes the period with the records that had arrived by ``share``
        (a new revision when it already published the period)."""
        for c in countries or tuple(self.members):
            m = self.members[c]
            rec = m.records if share >= 1 else subset(m.records, m.arrival < share)
            summary = m.node.summarize(rec, period=period, now=self.tick(), rng=Random(self.seed))
            envelope = m.node.sign(summary, self.trust.nodes[c])
            m.pubs.append(Pub(summary, envelope, rec))

    def summaries(self) -> list[Summary]:
        return [p.summary for m in self.members.values() for p in m.pubs]

    # --- rounds -------------------------------------------------------------------------

    def round(
        self,
        period: str,
        countries: tuple[str, ...] | None = None,
        *,
        seed: str,
        missing: tuple[str, ...] = (),
        tables=TABLES,
    ) -> RoundRun:
        """Announce a round among ``countries`` (their latest publication of the period);
        every one but ``missing`` contributes; the round completes or is aborted."""
        countries = countries or tuple(self.members)
        now = self.tick()
        ann_bytes = open_round(
            self.trust.registry,
            self.trust.coordinator,
            period=period,
            participants=[
                (
                    c,
                    self.members[c].latest(period).digest,
                    self.members[c].latest(period).summary.revision,
                )
                for c in countries
            ],
            tables=tables,
            codebook=CB,
            now=now,
            deadline=now + dt.timedelta(minutes=30),
            rng=Random(seed),
        )
        ann = verify(ann_bytes, self.trust.registry, now=now, profile=ANNOUNCEMENT_PROFILE)
        digest = envelope_digest(ann_bytes)
        book = RoundBook()
        book.announce(ann, digest, len(self.rounds))
        got, envelopes = {}, {}
        for c in countries:
            if c in missing:
                continue
            env = self.send(c, ann_bytes, f"{seed}-{c}", now)
            con = verify(env, self.trust.registry, now=now, profile=CONTRIBUTION_PROFILE)
            assert book.rounds[ann.round_id].refusal(con, envelope_digest(env), now) is None
            book.contribute(con, envelope_digest(env), None)
            got[c], envelopes[c] = con, env
        result = book.rounds[ann.round_id].result_now(now, abort=bool(missing))
        assert result is not None
        run = RoundRun(ann, digest, result, got, ann_bytes, envelopes)
        self.rounds.append(run)
        return run

    def send(
        self,
        country: str,
        ann_bytes: bytes,
        seed: str,
        now: dt.datetime,
        ledger: Ledger | None = None,
    ) -> bytes:
        """The node's contribution (with its own ledger, or the one given)."""
        m = self.members[country]
        ann = verify(ann_bytes, self.trust.registry, now=now, profile=ANNOUNCEMENT_PROFILE)
        return contribute(
            ann_bytes,
            registry=self.trust.registry,
            codebook=CB,
            records=m.latest(ann.period).records,
            signer=self.trust.nodes[country],
            agreement=self.trust.agreements[country],
            ledger=ledger or m.node.ledger,
            now=now,
            rand=Random(seed).randrange,
        )

    def observations(self) -> list[Observation]:
        """Every complete round's raw sums, as published."""
        return [
            observed(r.announcement, r.result) for r in self.rounds if r.result.status == "complete"
        ]

    # --- what colluders know, and the truth ---------------------------------------------

    def masks(self, country: str, run: RoundRun) -> dict[str, np.ndarray]:
        """The node's own total masks in a round (it can recompute them: its software)."""
        reg = self.trust.registry
        peers = {
            p.agreement_keyid: reg.key(p.agreement_keyid).raw for p in run.announcement.participants
        }
        return mask_sum(
            self.trust.agreements[country],
            peers,
            announcement=run.digest,
            round_id=run.announcement.round_id,
            tables=[(t.name, t.cells) for t in run.announcement.tables],
        )

    def share(self, country: str, run: RoundRun) -> dict[str, list[int]]:
        """A node's noise share in a round, as it reads it from its own contribution:
        value − its masks − its counts, modulo 2**32, signed."""
        con = run.contributions[country]
        masks = self.masks(country, run)
        counts = round_counts(
            self.records_in(country, run), run.announcement.tables, CB, run.announcement.period
        )
        out = {}
        for t in con.tables:
            v = (np.array(t.values, np.uint64) + MODULUS - masks[t.name]) % MODULUS
            v = (v.astype(np.int64) - counts[t.name]) % MODULUS
            out[t.name] = [int(x) - MODULUS if x >= MODULUS // 2 else int(x) for x in v]
        return out

    def records_in(self, country: str, run: RoundRun) -> CodedRecords:
        """The records a participant's counts in a round came from."""
        p = run.announcement.participant(country)
        assert p is not None
        return next(x.records for x in self.members[country].pubs if x.digest == p.summary)

    def insider(self, country: str) -> Insider:
        """What a node colluding with the coordinator knows."""
        truth = self.truth()
        cells_ = {}
        for p in self.members[country].pubs:
            s = p.summary
            cells_[(s.period, s.revision)] = {
                c.key: v
                for c, v in truth.items()
                if (c.country, c.period, c.revision) == (country, s.period, s.revision)
            }
        shares = {
            r.announcement.round_id: self.share(country, r)
            for r in self.rounds
            if country in r.contributions
        }
        return Insider(country, cells_, shares)

    def truth(self) -> dict[Cell, int]:
        """Every national cell of every publication, as the records give it."""
        out: dict[Cell, int] = {}
        for m in self.members.values():
            for p in m.pubs:
                s = p.summary
                mask = select_period(p.records, s.period, allow_empty=True)
                for spec, table in zip(DEFAULT_TABLES, s.tables, strict=True):
                    assert spec.name == table.name
                    cube = build_cube(p.records, spec, CB, mask)
                    assert cube.codes == tuple(a.codes for a in table.axes)
                    for (key, _), v in zip(
                        cells(table.axes, table.filter), cube.values.ravel(), strict=True
                    ):
                        out[Cell(m.country, s.period, s.revision, key)] = int(v)
        return out


def unmasked(world: World, run: RoundRun, colluder: str) -> Observation:
    """An aborted round that ``colluder`` missed, unmasked by it and the coordinator: the
    present contributions' masks are, summed, minus the colluder's own total mask, which
    it recomputes; what is left is Σ (counts + noise share) of the present nodes."""
    assert run.result.status == "aborted" and run.result.missing == (colluder,)
    masks = world.masks(colluder, run)
    sums = {}
    for t in run.announcement.tables:
        total = masks[t.name].copy()
        for con in run.contributions.values():
            vec = next(m.values for m in con.tables if m.name == t.name)
            total = (total + np.array(vec, np.uint64)) % MODULUS
        sums[t.name] = tuple(int(v) - MODULUS if v >= MODULUS // 2 else int(v) for v in total)
    ann = run.announcement
    return Observation(
        round_id=ann.round_id,
        period=ann.period,
        members={c: ann.participant(c).revision for c in run.contributions},
        tables=tuple(ann.tables),
        sums=sums,
        variance=ann.noise.variance,
        factor=ann.noise.margin_factor,
        collusion=ann.noise.collusion,
        announced=len(ann.participants),
    )


def replayed(world: World, run: RoundRun, times: int, *, seed: int, noise: bool = True):
    """A weakened setup: the round's sums drawn again ``times`` times with fresh noise of
    the announced variance (nodes that forgot their budget), or once without noise."""
    obs = observed(run.announcement, run.result)
    truth = regional_truth(world, run)
    rng = np.random.default_rng(seed)
    n = obs.announced
    out = []
    for i in range(times):
        sums = {}
        for t in obs.tables:
            total = np.array(truth[t.name], np.int64)
            if noise:
                for j, (_, totals) in enumerate(cells(t.axes, t.filter)):
                    v = obs.variance * obs.factor**totals * n / (n - obs.collusion)
                    total[j] += int(draw(rng, v, 1)[0])
            sums[t.name] = tuple(int(x) for x in total)
        out.append(
            dataclasses.replace(
                obs,
                round_id=f"{obs.round_id[:24]}{i:08x}",
                sums=sums,
                variance=obs.variance if noise else 0.0,
            )
        )
    return out


def book_of(world: World, run: RoundRun) -> RoundBook:
    """The coordinator's book of one round, its contributions taken."""
    book = RoundBook()
    book.announce(run.announcement, run.digest, 0)
    for c, env in run.envelopes.items():
        book.contribute(run.contributions[c], envelope_digest(env), None)
    return book


def regional_truth(world: World, run: RoundRun) -> dict[str, np.ndarray]:
    """Σ of the contributors' true counts of each table of a round."""
    out: dict[str, np.ndarray] = {}
    for c in run.contributions:
        counts = round_counts(
            world.records_in(c, run), run.announcement.tables, CB, run.announcement.period
        )
        for name, v in counts.items():
            out[name] = out.get(name, 0) + v
    return out


__all__ = [
    "COUNTRIES",
    "TABLES",
    "Key",
    "Member",
    "Pub",
    "RoundRun",
    "World",
    "book_of",
    "regional_truth",
    "replayed",
    "subset",
    "unmasked",
]
