"""Privacy budgets: what each country has spent on secure rounds, per year group.

A record of year ``Y`` falls in the rounds of period ``Y`` and of its own quarter
``Y-Qn``, in every revision; nothing else touches it (other years hold other records). Its
privacy loss is the composition (sum of Rényi DP curves) of those rounds, so the worst
record of a year group is the worst quarter: ``max_q ε(rounds of Y ∪ rounds of Y-Qq)``.
The registry's ``secure.epsilon_budget`` caps it.

The node enforces the cap, not the coordinator: a coordinator that could open rounds at
will would average the noise away, so every node keeps its own account
(:class:`PrivacyLedger`, beside its publication ledger) and refuses a round that would
exceed it. The auditor recomputes every country's account from the logged contributions.
Every round a node contributed to is charged, complete or not: a missing participant that
colludes with the coordinator could unmask an aborted round.
"""

from __future__ import annotations

from collections.abc import Iterable
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

__all__ = ["PrivacyLedger", "spent_epsilon"]

SECURE_FOLDER = "secure-rounds"


def spent_epsilon(announcements: Iterable[RoundAnnouncement], delta: float) -> float:
    """The ε at ``delta`` of the worst record of a year group, over the given rounds (all
    of one year group; several years give the worst year)."""
    by_year: dict[int, list[RoundAnnouncement]] = {}
    for ann in announcements:
        by_year.setdefault(period_years(ann.period)[0], []).append(ann)
    worst = 0.0
    for year, anns in by_year.items():
        for quarter in (1, 2, 3, 4):
            touching = [a for a in anns if a.period in (str(year), f"{year}-Q{quarter}")]
            if touching:
                rdp = np.sum([round_rdp(a.tables, a.noise) for a in touching], axis=0)
                worst = max(worst, epsilon(rdp, delta))
    return worst


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

    def spent(self, period: str, delta: float, extra: RoundAnnouncement | None = None) -> float:
        """ε at ``delta`` already spent on ``period``'s year group (with ``extra`` added)."""
        group = year_group(period)
        anns = [a for a in self.rounds() if year_group(a.period) == group]
        if extra is not None and all(a.round_id != extra.round_id for a in anns):
            anns.append(extra)
        return spent_epsilon(anns, delta)

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
