"""Privacy budgets: what each country has spent on secure rounds, per year group.

A record of year ``Y`` falls in the rounds of period ``Y`` and of its own quarter
``Y-Qn``, in every revision; nothing else touches it (other years hold other records). Its
privacy loss is the composition (sum of Rényi DP curves) of those rounds, so the worst
record of a year group is the worst quarter: ``max_q ε(rounds of Y ∪ rounds of Y-Qq)``.
The registry's ``secure.epsilon_budget`` caps it, and ``secure.max_rounds`` caps the number
of those rounds (an ε cap alone would admit many cheap rounds of one table, which average
its noise away).

The node enforces the cap, not the coordinator: a coordinator that could open rounds at
will would average the noise away, so every node keeps its own account
(:class:`PrivacyLedger`, beside its publication ledger) and refuses a round that would
exceed it. The auditor recomputes every country's account from the logged contributions.
Every round a node contributed to is charged, complete or not: a missing participant that
colludes with the coordinator could unmask an aborted round.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vanfed._json import atomic_write, read_limited
from vanfed.anonymize._history import year_group
from vanfed.errors import InputError
from vanfed.schema import CONTRIBUTION_TYPE, Contribution, RoundAnnouncement, period_years
from vanfed.secure._noise import epsilon, round_rdp
from vanfed.signing import (
    ANNOUNCEMENT_PROFILE,
    MAX_ENVELOPE_BYTES,
    Envelope,
    envelope_digest,
    parse_payload,
)

__all__ = ["PrivacyLedger", "Spent", "spent", "spent_epsilon"]

SECURE_FOLDER = "secure-rounds"


@dataclass(frozen=True)
class Spent:
    """What the worst record of a year group has spent: ε at δ, and how many rounds summed
    it."""

    epsilon: float
    rounds: int


def spent(announcements: Iterable[RoundAnnouncement], delta: float) -> Spent:
    """What the worst record has spent over the given rounds (of one year group; several
    years give the worst year): the worst quarter's rounds, the year's included."""
    by_year: dict[int, list[RoundAnnouncement]] = {}
    for ann in announcements:
        by_year.setdefault(period_years(ann.period)[0], []).append(ann)
    worst, most = 0.0, 0
    for year, anns in by_year.items():
        for quarter in (1, 2, 3, 4):
            touching = [a for a in anns if a.period in (str(year), f"{year}-Q{quarter}")]
            if touching:
                rdp = np.sum([round_rdp(a.tables, a.noise) for a in touching], axis=0)
                worst = max(worst, epsilon(rdp, delta))
                most = max(most, len(touching))
    return Spent(worst, most)


def spent_epsilon(announcements: Iterable[RoundAnnouncement], delta: float) -> float:
    """The ε at ``delta`` of the worst record of a year group, over the given rounds."""
    return spent(announcements, delta).epsilon


class PrivacyLedger:
    """The node's own account of the rounds it contributed to (append-only).

    Layout: ``FOLDER/<round id>.announcement.dsse.json`` and
    ``FOLDER/<round id>.contribution.dsse.json``, each written once, atomically; the
    announcement is written first, so a contribution is never without the round it
    charges. With both kept, contributing again to the same round returns the very same
    envelope (a second noise draw would average the first one down).
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def _paths(self, round_id: str) -> tuple[Path, Path]:
        return (
            self.folder / f"{round_id}.announcement.dsse.json",
            self.folder / f"{round_id}.contribution.dsse.json",
        )

    def contribution(self, round_id: str) -> bytes | None:
        """The envelope this node already sent to a round, if any."""
        path = self._paths(round_id)[1]
        return read_limited(path, MAX_ENVELOPE_BYTES) if path.exists() else None

    def rounds(self) -> list[RoundAnnouncement]:
        """Every round charged so far (its announcement as verified when contributing)."""
        out = []
        for path in sorted(self.folder.glob("*.announcement.dsse.json")):
            data = read_limited(path, MAX_ENVELOPE_BYTES)
            env = Envelope.from_bytes(data)
            if env.payload_type != ANNOUNCEMENT_PROFILE.payload_type:
                raise InputError(f"{path}: not a round announcement")
            out.append(parse_payload(env.payload, RoundAnnouncement))
        return out

    def spent(self, period: str, delta: float, extra: RoundAnnouncement | None = None) -> Spent:
        """What ``period``'s year group has spent (with ``extra`` added)."""
        group = year_group(period)
        anns = [a for a in self.rounds() if year_group(a.period) == group]
        if extra is not None and all(a.round_id != extra.round_id for a in anns):
            anns.append(extra)
        return spent(anns, delta)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the ledger alone (another process contributing at the same time waits), so
        that a round is checked against the budget and charged as one step."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / "lock").open("a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def charged(self, round_id: str) -> bool:
        """Whether a round is charged (its announcement kept), with or without the
        contribution that went with it."""
        return self._paths(round_id)[0].exists()

    def remember(self, announcement: bytes) -> bool:
        """Charge a round this node contributed to but whose record it lost (a ledger
        rebuilt from the coordinator's log): its announcement only. The node then never
        contributes to that round again (see :func:`vanfed.secure.contribute`). Returns
        whether the round was new here.

        Raises:
            InputError: not a round announcement.
        """
        env = Envelope.from_bytes(announcement)
        if env.payload_type != ANNOUNCEMENT_PROFILE.payload_type:
            raise InputError("privacy ledger: not a round announcement envelope")
        round_id = parse_payload(env.payload, RoundAnnouncement).round_id
        if self.charged(round_id):
            return False
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write(self._paths(round_id)[0], announcement)
        return True

    def keep(self, announcement: bytes, contribution: bytes) -> str:
        """Charge a round: keep its announcement, then the contribution; its digest."""
        env = Envelope.from_bytes(contribution)
        if env.payload_type != CONTRIBUTION_TYPE:
            raise InputError("privacy ledger: not a contribution envelope")
        round_id = parse_payload(env.payload, Contribution).round_id
        first, second = self._paths(round_id)
        if second.exists():
            raise InputError(f"privacy ledger: round {round_id} is already charged")
        atomic_write(first, announcement)
        atomic_write(second, contribution)
        return envelope_digest(contribution)
