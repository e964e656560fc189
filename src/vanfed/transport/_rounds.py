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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vanfed._json import loads_strict, read_limited
from vanfed.errors import ReasonCode, VanfedError, VerificationError
from vanfed.schema import (
    SUMMARY_TYPE,
    Codebook,
    Contribution,
    InboxLayout,
    RoundAnnouncement,
    RoundResult,
    TrustRegistry,
)
from vanfed.secure import RoundBook, announcement_problems
from vanfed.signing import PROFILES, Envelope, timestamp, verify
from vanfed.tlog import TransparencyLog

__all__ = ["RoundDoor", "RoundItem", "RoundProblem", "read_rounds", "round_status"]

RoundItem = RoundAnnouncement | Contribution | RoundResult
Closer = Callable[[RoundResult, dt.datetime], str]  # signs and logs a result: its digest


class RoundDoor:
    """The rounds of one inbox's log, and the checks of the door on their envelopes."""

    def __init__(self, codebook: Codebook) -> None:
        self.codebook = codebook
        self.book = RoundBook()

    def refusal(
        self,
        item: RoundItem,
        digest: str,
        registry: TrustRegistry,
        now: dt.datetime,
        current: Callable[[str, str], str | None],
    ) -> tuple[str, str] | None:
        """(reason code, message) if the door must refuse the envelope, else None.
        ``current(country, period)`` is the digest of the inbox's current summary."""
        if isinstance(item, RoundAnnouncement):
            if item.round_id in self.book.rounds:
                return ReasonCode.DUPLICATE_ROUND, f"round {item.round_id[:12]}… exists"
            problems = announcement_problems(item, registry, self.codebook, now)
            if problems:
                return problems[0]
            for p in item.participants:  # a round of summaries this inbox holds as current
                if current(p.country, item.period) != p.summary:
                    return (
                        ReasonCode.STALE_ROUND,
                        f"{p.country} {item.period}: the round names {p.summary[:19]}…, "
                        "which is not the current summary in this inbox",
                    )
            return None
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
            self.book.close(item, digest, index)

    def facts(self, item: RoundItem) -> tuple[str | None, int, str]:
        """(country, revision, kind) of a logged round envelope, for the inbox's listing
        and receipts: a contribution has its country and the national revision its round
        names; the coordinator's own statements have neither."""
        if isinstance(item, Contribution):
            member = self.book.rounds[item.round_id].announcement.participant(item.country)
            assert member is not None  # the door took it
            return item.country, member.revision, "contribution"
        return None, 0, "announcement" if isinstance(item, RoundAnnouncement) else "result"

    def close_due(self, now: dt.datetime, close: Closer, *, abort: str | None = None) -> None:
        """Close every round whose time has come: complete rounds, rounds past their
        deadline, and the round ``abort`` names; ``close`` signs and logs each result."""
        for r in list(self.book.rounds.values()):
            if r.result is None:
                got = r.result_now(now, abort=r.announcement.round_id == abort)
                if got is not None:
                    close(got, now)

    def abort(self, round_id: str, now: dt.datetime, close: Closer) -> str | tuple[str, str]:
        """Abort an open round now: the result's digest, or (reason code, message)."""
        r = self.book.round_of(round_id)
        if r is None:
            return ReasonCode.ROUND_UNKNOWN, f"round {round_id[:12]}… is unknown"
        if r.result is not None:
            return ReasonCode.ROUND_CLOSED, f"round {round_id[:12]}… is {r.result.status}"
        self.close_due(now, close, abort=round_id)
        assert r.result_digest is not None
        return r.result_digest

    def digest_of(self, round_id: str, part: str) -> str | None:
        """The digest of a round's ``announcement`` or ``result`` envelope, if logged."""
        r = self.book.round_of(round_id)
        if r is None:
            return None
        return r.digest if part == "announcement" else r.result_digest


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


@dataclass(frozen=True)
class RoundProblem:
    """A logged round envelope a correct door would refuse now: the round it claims to be
    part of (None if even that cannot be read), the reason code and a message."""

    round_id: str | None
    code: str
    message: str


def read_rounds(
    inbox: str | Path, registry: TrustRegistry, log: TransparencyLog, size: int
) -> tuple[RoundBook, list[RoundProblem]]:
    """The rounds of an inbox's log up to ``size`` entries, and what is wrong in them.

    Each round envelope is verified again (its signer judged at the time the log received
    it) and taken in log order through the door's own checks on contributions and results
    (at that time): what a correct door would have refused is left out of the book and
    reported — the merge then cannot use it, and the audit fails a report built on it.
    """
    layout = InboxLayout(inbox)
    book = RoundBook()
    problems: list[RoundProblem] = []
    limit = registry.policy.max_envelope_bytes
    for entry in log.entries[:size]:
        path = layout.envelope(entry.digest, round_part=True)
        if not path.exists():
            continue
        when = dt.datetime.fromtimestamp(entry.received_at, dt.UTC)
        data = read_limited(path, limit)
        try:
            item = _verified_part(data, registry, when, path)
        except VerificationError as exc:
            code = exc.reasons[0] if exc.reasons else ReasonCode.REJECTED
            problems.append(RoundProblem(_unverified_round(data), code, str(exc)))
            continue
        why = _replayed(book, item, entry.digest, when)
        if why is not None:
            problems.append(RoundProblem(item.round_id, why[0], f"{path.name}: {why[1]}"))
            continue
        if isinstance(item, RoundAnnouncement):
            book.announce(item, entry.digest, entry.index)
        elif isinstance(item, Contribution):
            book.contribute(item, entry.digest, entry.index)
        else:
            book.close(item, entry.digest, entry.index)
    return book, problems


def _unverified_round(data: bytes) -> str | None:
    """The round id an envelope that failed verification claims (to say which round it
    concerns; nothing else is read from it)."""
    try:
        unverified = loads_strict(Envelope.from_bytes(data).payload, subject="round envelope")
    except VanfedError:
        return None
    got = unverified.get("round_id") if isinstance(unverified, dict) else None
    return got if isinstance(got, str) else None


def _verified_part(data: bytes, registry: TrustRegistry, when: dt.datetime, path: Path) -> Any:
    kind = Envelope.from_bytes(data).payload_type
    if kind == SUMMARY_TYPE or kind not in PROFILES:
        raise VerificationError(f"{path}: not a round envelope ({kind})", (ReasonCode.MALFORMED,))
    return verify(data, registry, now=when, profile=PROFILES[kind], key_time=when)


def _replayed(
    book: RoundBook, item: RoundItem, digest: str, when: dt.datetime
) -> tuple[str, str] | None:
    """The door's check of a logged round envelope, replayed at the time it was logged."""
    if isinstance(item, RoundAnnouncement):
        if item.round_id in book.rounds:
            return ReasonCode.DUPLICATE_ROUND, f"round {item.round_id[:12]}… announced twice"
        return None
    r = book.round_of(item.round_id)
    if r is None:
        return ReasonCode.ROUND_UNKNOWN, f"round {item.round_id[:12]}… was never announced"
    why = (
        r.refusal(item, digest, when) if isinstance(item, Contribution) else r.result_refusal(item)
    )
    return None if why is None else (why.reason, why.message)
