"""Perturbation tables for counts, by maximum entropy (the sdcTools ``ptable`` approach).

Row ``i`` of a ptable gives, for a true count ``i``, the probability of publishing
``j = i + v``. Following ``ptable::create_cnt_ptable(D, V, js)`` (Giessing 2016, PSD, LNCS
9867; Marley and Leaver 2011), each row maximises the entropy ``-Σ p log p`` subject to:

1. targets ``max(i - D, 0) … i + D`` without the blocked counts ``1 … js`` (no negative
   count, no count 1 … js, ``|v| <= D``);
2. ``Σ p = 1`` and ``Σ v p = 0`` (unbiased noise);
3. ``Σ v² p <= V`` (the variance; reached wherever the row's targets allow it);
4. ``p(v) <= p(v + 1)`` for ``v < 0`` (monotone up to the stay probability), skipped on
   rows whose own count is blocked;
5. every ``p >= 1e-8``.

Rows exist for ``i = 0 … D`` (``js = 0``) or ``0 … D + js + 1``; the last row serves every
larger count (``j = i + v``). Row 0 maps 0 to 0 (zeros stay zero). Where the blocking makes
``V`` unreachable (a count inside the block must jump out of it), the row is the zero-mean
distribution of smallest variance on its targets (a linear programme on HiGHS) instead.
Probabilities are then fixed as integer cumulative bounds out of 10^8 (``ptable`` rounds its
intervals to 8 digits the same way), so a lookup is exact integer arithmetic.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from vanfed._json import canonical_bytes
from vanfed.errors import InputError
from vanfed.schema import CkmParams, CkmRecord

__all__ = ["KEY_BITS", "RESOLUTION", "PTable", "build_ptable"]

RESOLUTION = 10**8  # probabilities in units of 1e-8, as ptable's 8-digit intervals
KEY_BITS = 32  # record and cell keys are integers in [0, 2**32): key / 2**32 in [0, 1)
EPSILON = 1e-8


@dataclass(frozen=True)
class PTable:
    """A count ptable: per row, the noise ``v`` and the cumulative upper bounds (× 1e-8)."""

    params: CkmParams
    noise: tuple[tuple[int, ...], ...]
    upper: tuple[tuple[int, ...], ...]

    @property
    def rows(self) -> int:
        """How many rows the table has (true counts 0 … rows − 1; larger ones use the last)."""
        return len(self.noise)

    def probabilities(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(noise, probability) of row ``i`` as floats (for checks and plots)."""
        v = np.array(self.noise[i], np.int64)
        cum = np.array(self.upper[i], np.int64)
        return v, np.diff(cum, prepend=0) / RESOLUTION

    def canonical_bytes(self) -> bytes:
        """The table as RFC 8785 bytes: what its digest covers."""
        p = self.params
        return canonical_bytes(
            {
                "format": "vanfed-ptable/1",
                "max_noise": p.max_noise,
                "variance": p.variance,
                "js": p.js,
                "resolution": RESOLUTION,
                "rows": [
                    {"i": i, "v": list(v), "upper": list(u)}
                    for i, (v, u) in enumerate(zip(self.noise, self.upper, strict=True))
                ],
            }
        )

    @property
    def digest(self) -> str:
        """``sha256:`` of the canonical bytes; agreed in the registry policy."""
        return "sha256:" + hashlib.sha256(self.canonical_bytes()).hexdigest()

    def record(self) -> CkmRecord:
        """The parameters and digest, as summaries and registries carry them."""
        return CkmRecord(**self.params.model_dump(), ptable_digest=self.digest)

    def perturb(self, counts: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """Published counts for true ``counts`` with cell ``keys`` (ints in [0, 2**32)).

        The cell key ``u = key / 2**32`` picks the first target whose cumulative bound
        exceeds it: ``key * 1e8 < upper * 2**32``, compared as exact integers.
        """
        n = np.asarray(counts, np.int64)
        k = np.asarray(keys, np.int64)
        width = max(len(v) for v in self.noise)
        upper = np.full((self.rows, width), RESOLUTION, np.int64)
        noise = np.zeros((self.rows, width), np.int64)
        for r, (v, u) in enumerate(zip(self.noise, self.upper, strict=True)):
            upper[r, : len(u)] = u
            noise[r, : len(v)] = v
            noise[r, len(v) :] = v[-1]
        row = np.minimum(n, self.rows - 1)
        scaled = (k * RESOLUTION)[..., None]
        pick = (scaled >= upper[row] << KEY_BITS).sum(axis=-1)
        return n + np.take_along_axis(noise[row], pick[..., None], axis=-1)[..., 0]


def _row_targets(i: int, p: CkmParams) -> np.ndarray:
    j = np.arange(max(i - p.max_noise, 0), i + p.max_noise + 1)
    return j[(j == 0) | (j > p.js)] - i


def _min_variance(v: np.ndarray) -> tuple[float, np.ndarray]:
    """The smallest variance a zero-mean distribution on ``v`` (each p >= eps) can have."""
    from scipy.optimize import linprog  # only when a ptable is built: keeps CLI start fast

    n = len(v)
    res = linprog(
        (v**2).astype(float),
        A_eq=np.vstack([np.ones(n), v]),
        b_eq=[1.0, 0.0],
        bounds=[(EPSILON, 1.0)] * n,
        method="highs",
    )
    if res.status != 0:
        raise InputError(f"ptable: noise {v.tolist()} cannot have a zero mean")
    return float(res.fun), np.asarray(res.x)


def _solve_row(v: np.ndarray, variance: float, mono: bool) -> np.ndarray:
    """Maximum-entropy probabilities on noise values ``v`` (SLSQP, as ptable's nloptr)."""
    from scipy.optimize import minimize

    least, p_least = _min_variance(v)
    if least >= variance * (1 - 1e-9):
        return np.clip(p_least, EPSILON, 1.0)  # V is out of reach: the least-variance row
    cap = variance
    vf = v.astype(float)
    cons = [
        {"type": "eq", "fun": lambda p: p.sum() - 1.0, "jac": np.ones_like},
        {"type": "eq", "fun": lambda p: vf @ p, "jac": lambda p: vf},
        {"type": "ineq", "fun": lambda p: cap - (vf**2) @ p, "jac": lambda p: -(vf**2)},
    ]
    zero = int(np.flatnonzero(v == 0)[0]) if mono and (v == 0).any() else 0
    mono_rows = []
    for a in range(zero):
        row = np.zeros(len(v))
        row[a], row[a + 1] = -1.0, 1.0
        mono_rows.append(row)
        cons.append({"type": "ineq", "fun": lambda p, r=row: r @ p, "jac": lambda p, r=row: r})
    x0 = np.exp(-(vf**2) / (2 * cap))
    res = minimize(
        lambda p: float(p @ np.log(p)),
        x0 / x0.sum(),
        jac=lambda p: np.log(p) + 1.0,
        bounds=[(EPSILON, 1.0)] * len(v),
        constraints=cons,
        method="SLSQP",
        options={"ftol": 1e-13, "maxiter": 1000},
    )
    p = np.asarray(res.x)
    # SLSQP may stop short of its ftol ("positive directional derivative") at a point that
    # is optimal to print precision; what matters is that the constraints hold.
    feasible = (
        abs(p.sum() - 1) < 1e-9
        and abs(vf @ p) < 1e-9
        and (vf**2) @ p <= cap + 1e-9
        and all(float(r @ p) > -1e-9 for r in mono_rows)
    )
    if not feasible:
        raise InputError(f"ptable: no maximum-entropy row for noise {v.tolist()}: {res.message}")
    return np.clip(res.x, EPSILON, 1.0)


@lru_cache(maxsize=16)
def build_ptable(params: CkmParams) -> PTable:
    """The count ptable of ``params`` (deterministic: same parameters, same bytes).

    Raises:
        InputError: the parameters admit no table (e.g. a variance below what the blocking
            forces cannot be the problem: such rows take their smallest variance).
    """
    rows = params.max_noise if params.js == 0 else params.max_noise + params.js + 1
    noise: list[tuple[int, ...]] = [(0,)]
    upper: list[tuple[int, ...]] = [(RESOLUTION,)]
    for i in range(1, rows + 1):
        v = _row_targets(i, params)
        p = _solve_row(v, params.variance, mono=i > params.js)
        cum = np.rint(np.cumsum(p / p.sum()) * RESOLUTION).astype(np.int64)
        cum[-1] = RESOLUTION
        noise.append(tuple(int(x) for x in v))
        upper.append(tuple(int(x) for x in np.maximum.accumulate(cum)))
    return PTable(params, tuple(noise), tuple(upper))
