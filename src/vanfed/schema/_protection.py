"""The protection policy: which numbers are public, and what the attacker already knows.

A region agrees on headline numbers that every country publishes (what Landmine Monitor
prints: national totals by outcome, by sex, by age group, ...). They are never suppressed;
protection happens inside the tables. The policy is a small TOML file held by the node, and
the same model can sit in the signed trust registry's policy::

    # protection-policy.toml
    grand_totals = true                      # every table's grand total (default)
    public_margins = [["outcome"], ["sex"], ["age"], ["civilian_status"], ["device"]]

    [[known_cells]]                          # published elsewhere: the attacker has them
    outcome = "killed"
    sex = "f"

A *margin* is a set of dimensions: its cells are the national totals over every other
dimension, one per code combination (``["sex"]`` is the totals for f, m and _U). A public
cell that is itself below the threshold k is still suppressed: the threshold rule wins.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import Field, ValidationError, field_validator

from vanfed._json import read_limited
from vanfed.errors import InputError
from vanfed.schema._base import Model

__all__ = ["ProtectionPolicy", "load_protection_policy"]

MAX_POLICY_BYTES = 256 * 1024


class ProtectionPolicy(Model):
    """Cells to publish whatever the suppression would prefer, known to the attacker."""

    grand_totals: bool = True
    public_margins: tuple[tuple[str, ...], ...] = Field(default=(), max_length=256)
    known_cells: tuple[dict[str, str], ...] = Field(default=(), max_length=10_000)

    @field_validator("public_margins")
    @classmethod
    def _distinct_dims(cls, v: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
        for margin in v:
            if len(set(margin)) != len(margin):
                raise ValueError(f"margin {list(margin)} names a dimension twice")
        return v

    def margin_sets(self) -> frozenset[frozenset[str]]:
        """The public margins as sets of dimension names (order does not matter)."""
        return frozenset(frozenset(m) for m in self.public_margins)


def load_protection_policy(path: str | Path) -> ProtectionPolicy:
    """Read and validate a protection policy TOML file.

    Raises:
        InputError: unreadable, too large, not TOML, or not a valid policy (names the field).
    """
    p = Path(path)
    raw = read_limited(p, MAX_POLICY_BYTES, subject=f"{p}: cannot read protection policy")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{p}: not a valid TOML file ({exc})") from exc
    try:
        return ProtectionPolicy.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "top level"
        raise InputError(f"{p}: {where}: {err['msg']}") from exc
