"""The door's part of the secure path: which round envelopes it takes, and when rounds close.

The inbox (:class:`vanfed.transport.Inbox`) verifies every envelope by its payload type;
for the three kinds of a round it asks :class:`RoundDoor`, which keeps the
:class:`vanfed.secure.RoundBook` of its log:

* an **announcement** (the coordinator's key) is taken once per round id, if the registry
  allows the round (:func:`vanfed.secure.announcement_problems`);
* a **contribution** (a node's key) is taken if its round is open, by the deadline, from a
  participant that has not contributed, of the announced shape, matching the national
  summary the round names (:meth:`vanfed.secure.Round.refusal`); a refused one is not
  logged and the round goes on for the others;
* a **result** (the coordinator's key) is taken if it is exactly what the logged
  contributions give (:meth:`vanfed.secure.Round.result_refusal`).

The inbox closes rounds itself (:meth:`RoundDoor.due`): a round completes the moment its
last participant contributes, and is aborted once its deadline passes; either way the
result is signed with the coordinator key and logged like everything else.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from vanfed.errors import ReasonCode
from vanfed.schema import (
    Codebook,
    Contribution,
    RoundAnnouncement,
    RoundResult,
    TrustRegistry,
)
from vanfed.secure import RoundBook, announcement_problems
from vanfed.signing import timestamp

__all__ = ["RoundDoor", "RoundItem", "round_status"]

RoundItem = RoundAnnouncement | Contribution | RoundResult


class RoundDoor:
    """The rounds of one inbox's log, and the checks of the door on their envelopes."""

    def __init__(self, codebook: Codebook) -> None:
        self.codebook = codebook
        self.book = RoundBook()

    def refusal(
        self, item: RoundItem, digest: str, registry: TrustRegistry, now: dt.datetime
    ) -> tuple[str, str] | None:
        """(reason code, message) if the door must refuse the envelope, else None."""
        if isinstance(item, RoundAnnouncement):
            if item.round_id in self.book.rounds:
                return ReasonCode.DUPLICATE_ROUND, f"round {item.round_id[:12]}… exists"
            problems = announcement_problems(item, registry, self.codebook, now)
            return problems[0] if problems else None
        r = self.book.round_of(item.round_id)
        if r is None:
            return ReasonCode.ROUND_UNKNOWN, f"round {item.round_id[:12]}… was never announced"
        if isinstance(item, Contribution):
            why = r.refusal(item, digest, now)
        else:
            if item.announcement != r.digest:
                return ReasonCode.ANNOUNCEMENT_MISMATCH, "the result names another announcement"
            why = r.result_refusal(item)
        return None if why is None else (why.reason, why.message)

    def record(self, item: RoundItem, digest: str, index: int) -> None:
        """Add a logged envelope to the book."""
        if isinstance(item, RoundAnnouncement):
            self.book.announce(item, digest, index)
        elif isinstance(item, Contribution):
            self.book.contribute(item, digest, index)
        else:
            self.book.close(item, digest)

    def revision(self, c: Contribution) -> int:
        """The national revision a contribution's round names for its country."""
        member = self.book.rounds[c.round_id].announcement.participant(c.country)
        assert member is not None  # the door took it
        return member.revision

    def due(self, now: dt.datetime, *, abort: str | None = None) -> list[RoundResult]:
        """Results the coordinator must sign now: complete rounds, rounds past their
        deadline, and the round ``abort`` names."""
        out = []
        for r in self.book.rounds.values():
            if r.result is None:
                got = r.result_now(now, abort=r.announcement.round_id == abort)
                if got is not None:
                    out.append(got)
        return out


def round_status(door: RoundDoor, now: dt.datetime) -> list[dict[str, Any]]:
    """Every round of the log: id, period, status, deadline, who contributed, who not."""
    out = []
    for r in door.book.rounds.values():
        a = r.announcement
        status: str = r.result.status if r.result else "open"
        if status == "open" and timestamp(now) > a.deadline:
            status = "expired"
        out.append(
            {
                "round_id": a.round_id,
                "period": a.period,
                "status": status,
                "created_at": a.created_at,
                "deadline": a.deadline,
                "announcement": r.digest,
                "participants": [p.country for p in a.participants],
                "contributed": sorted(r.contributions),
                "contributions": [
                    {"country": c, "digest": d, "index": i}
                    for c, (d, _, i) in sorted(r.contributions.items())
                ],
                "announcement_index": r.log_index,
                "missing": list(r.missing),
                "result": r.result_digest,
                "tables": [t.name for t in a.tables],
            }
        )
    return out
