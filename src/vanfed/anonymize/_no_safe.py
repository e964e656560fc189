"""Why a publication cannot be made safe beside its history: proven, or the search gave up.

The history protection only ever hides more cells of the new publication (earlier
publications are facts), and hiding more only widens the attacker's intervals. So when a
cell stays narrow with *every* cell of the new publication hidden but the public ones, and
its widest interval lies inside ``(0, k)``, no pattern can help: every pattern's interval
holds the true value, lies inside that one, and is narrower than ``s``. That is a proof,
provided the attacker's assumption cannot be ruled out by what the node publishes: it
cannot when the node's true counts satisfy it (they then witness it for every pattern).
Anything short of that is reported as the search giving up, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vanfed.anonymize._audit import TOL, interval_attack
from vanfed.anonymize._system import LinkedSystem
from vanfed.errors import ProtectionError, ReasonCode

__all__ = ["Finding", "NoSafePublication", "widest"]


@dataclass(frozen=True)
class Finding:
    """A cell the attacker narrows into ``(0, k)`` under one assumption."""

    model: str
    where: str
    lo: float
    hi: float

    def __str__(self) -> str:
        hi = "∞" if not np.isfinite(self.hi) else f"{self.hi:g}"
        return f"{self.where} lies in [{self.lo:g}, {hi}] (assuming records {self.model})"


class NoSafePublication(ProtectionError):
    """``history_disclosure``: no pattern of the new publication protects ``finding``.

    Attributes:
        label: the publication (``2024 r2``).
        finding: the cell and its interval under the pattern the search reached.
        widest: its interval with every hideable cell of the publication hidden.
        proven: whether no pattern at all can help (see the module docstring).
        key: the cell's coordinates (``{}`` for a grand total).
        change: whether the cell is a change between publications (else a published cell).
    """

    def __init__(
        self,
        label: str,
        finding: Finding,
        widest: tuple[float, float],
        *,
        proven: bool,
        key: dict[str, str],
        change: bool,
        contradicted: bool,
        k: int,
        s: int,
    ) -> None:
        self.label, self.finding, self.widest, self.proven = label, finding, widest, proven
        self.key, self.change, self.k = key, change, k
        lo, hi = widest
        top = "∞" if not np.isfinite(hi) else f"{hi:g}"
        if proven:
            why = (
                f"{label}: no safe publication exists beside the earlier ones (proven): even "
                f"with every cell of {label} hidden but the public ones, {finding.where} lies "
                f"in [{lo:g}, {top}] inside (0, {k}) assuming records {finding.model}, which "
                "the records do not contradict"
            )
        else:
            why = f"{label}: no safe publication found beside the earlier ones: {finding}; "
            if contradicted:
                why += (
                    "the records contradict that assumption, so publishing more cells might "
                    "rule it out, which the search does not try"
                )
            elif hi - lo < s - TOL:
                why += (
                    f"hiding every cell it may hide leaves it in [{lo:g}, {top}]; only "
                    "publishing more (pinning it to 0, or to k or more) could help, which the "
                    "search does not try"
                )
            else:
                why += f"the search gave up (with every cell hidden it spans [{lo:g}, {top}])"
        super().__init__(why, reason=ReasonCode.HISTORY_DISCLOSURE)


def widest(
    system: LinkedSystem, values: np.ndarray, unknown: np.ndarray, targets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The attacker's exact intervals of ``targets`` when ``unknown`` is hidden."""
    want = np.zeros(system.size, bool)
    want[targets] = True
    return interval_attack(system, values, unknown, want & unknown)
