"""What one summarising run gave, period by period: each period is its own unit.

A run over several periods (``2024-Q1..2024-Q4,2024``) protects them one after the other,
each jointly with the ledger and the periods of the run already protected. One period that
cannot be published safely (``history_disclosure``), or not now (``outside_window``), does
not stop the others: :class:`Run` holds the summaries made and, for every period refused,
the error that says why and what to do next.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import overload

from vanfed.errors import NEXT, ProtectionError
from vanfed.schema import Summary

__all__ = ["Refused", "Run"]


@dataclass(frozen=True)
class Refused:
    """A period of a run that was not published, and why (the error names the next step)."""

    period: str
    revision: int
    error: ProtectionError

    @property
    def reason(self) -> str:
        """The stable reason code (``history_disclosure``, ``outside_window``, …)."""
        return self.error.reason

    def to_json_obj(self) -> dict[str, object]:
        """The refusal as JSON (``--json`` output): the message, and its next step apart
        (``next_step``, as in ``vanfed plan --json``; null when none was computed)."""
        return {
            "period": self.period,
            "revision": self.revision,
            "reason": self.reason,
            "message": str(self.error).partition(NEXT)[0],
            "next_step": self.error.next_step,
        }


@dataclass(frozen=True)
class Run(Sequence[Summary]):
    """The summaries a run made (a sequence of them, in the order they were protected) and
    the periods it refused."""

    summaries: tuple[Summary, ...]
    refused: tuple[Refused, ...] = ()

    @overload
    def __getitem__(self, index: int) -> Summary: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Summary]: ...
    def __getitem__(self, index: int | slice) -> Summary | Sequence[Summary]:
        return self.summaries[index]

    def __len__(self) -> int:
        return len(self.summaries)

    def __iter__(self) -> Iterator[Summary]:
        return iter(self.summaries)

    @property
    def complete(self) -> bool:
        """True when every period of the run was published."""
        return not self.refused

    def raise_refused(self) -> None:
        """Raise the first refusal's error, if any (what :meth:`vanfed.Node.summarize` does
        for its one period)."""
        if self.refused:
            raise self.refused[0].error
