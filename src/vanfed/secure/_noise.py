"""Distributed Skellam noise and its privacy accounting.

**The mechanism** (Agarwal, Kairouz and Liu, "The Skellam Mechanism for Differentially
Private Federated Learning", NeurIPS 2021). The Skellam distribution ``Sk(v)`` is the
difference of two independent Poisson variables of mean ``v / 2``: integer-valued, mean 0,
variance ``v``, and closed under sums (``Sk(a) + Sk(b) = Sk(a + b)``). So ``m`` honest
nodes that each add ``Sk(v / m)`` to a cell give it exactly ``Sk(v)``, integers pass
through the modular arithmetic of secure aggregation untouched, and nothing has to be
rounded. A cell with ``t`` total axes gets variance ``variance * margin_factor**t``
(:func:`cell_variances`); each of the ``n`` participants adds ``1 / (n - collusion)`` of
it, so the coordinator together with any ``collusion`` participants, who can subtract their
own shares, still faces the full variance.

**The accounting.** One record changes, in each table it falls in, one cell per set of
total axes (``2**d`` cells of a ``d``-dimensional table, margins included) by one. Each
cell is an independent one-dimensional Skellam mechanism with sensitivity 1, whose Rényi
DP at order ``α`` is bounded (the paper's multi-dimensional Skellam bound with
``Δ1 = Δ2 = 1``) by::

    α / (2v) + min((2α + 5) / (4v²), 3 / (2v))

Rényi DP composes by addition, over the cells of a round and over rounds; the (ε, δ) it
implies is the conversion of Balle et al. 2020 (Theorem 21), minimised over integer orders.
The bound is computed for the worst record, one that falls in every table of the round
(table filters are not used to narrow it: a conservative statement).

**Sampling, exactly.** An approximate sampler would not do: a sampler off by τ in
statistical distance weakens (ε, δ) to (ε, δ + (1 + e^ε) τ), ruinous at the ε of a useful
regional table. So every variate is drawn exactly, from uniform integers of the operating
system's CSPRNG (:func:`secrets.randbelow`) and rational arithmetic only. ``Poisson(λ)`` is
the sum of ``m = ⌈2λ⌉`` variates ``Poisson(γ)``, ``γ = λ / m ≤ 1/2``, each drawn by
rejection from the proposal of Canonne, Kamath and Steinke's Bernoulli(exp(−γ)) sampler
(NeurIPS 2020, Algorithm 1): ``K − 1`` where ``K`` is the first ``k`` with a failed
Bernoulli(γ / k) has ``P(K − 1 = k) = γ^k / k! · (1 − γ / (k + 1))``; accepting ``k`` with
probability ``(1 − γ)(k + 1) / (k + 1 − γ)`` (at most 1) leaves exactly ``γ^k / k!`` up to
a constant: Poisson(γ). The acceptance rate is ``(1 − γ) e^γ ≥ 0.82``.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Iterable, Sequence
from fractions import Fraction

import numpy as np

from vanfed.schema import NoiseSpec, RoundAnnouncement, RoundTable

__all__ = [
    "ALPHAS",
    "RandBelow",
    "announced_epsilon",
    "cell_variances",
    "draws",
    "epsilon",
    "fraction",
    "poisson",
    "rdp_curve",
    "round_rdp",
    "skellam",
    "total_axes",
]

ALPHAS: tuple[int, ...] = (*range(2, 65), *range(72, 257, 8), 384, 512, 1024)
RandBelow = Callable[[int], int]  # n -> a uniform integer in [0, n)


def _bernoulli(p: Fraction, rand: RandBelow) -> bool:
    """True with probability ``p`` (a fraction in [0, 1]), exactly."""
    return rand(p.denominator) < p.numerator


def _poisson_half(gamma: Fraction, rand: RandBelow) -> int:
    """One Poisson(``gamma``) variate for ``0 < gamma <= 1/2``, exactly (module docstring)."""
    while True:
        k = 0
        while _bernoulli(gamma / (k + 1), rand):
            k += 1
        if _bernoulli((1 - gamma) * (k + 1) / (k + 1 - gamma), rand):
            return k


def poisson(lam: Fraction, rand: RandBelow = secrets.randbelow) -> int:
    """One Poisson(``lam``) variate, exactly: a sum of ``⌈2 lam⌉`` Poisson(≤ 1/2)."""
    if lam <= 0:
        return 0
    m = math.ceil(2 * lam)
    gamma = lam / m
    return sum(_poisson_half(gamma, rand) for _ in range(m))


def draws(variances: Iterable[Fraction]) -> int:
    """How many Poisson(≤ 1/2) variates :func:`skellam` needs (a bound on its work)."""
    return sum(2 * math.ceil(v) for v in variances if v > 0)


def skellam(variances: np.ndarray, rand: RandBelow = secrets.randbelow) -> np.ndarray:
    """One Skellam variate per cell of the given variances (fractions; same shape, int64):
    ``Poisson(v / 2) − Poisson(v / 2)``."""
    flat = [Fraction(v) for v in np.asarray(variances, dtype=object).ravel()]
    out = [poisson(v / 2, rand) - poisson(v / 2, rand) for v in flat]
    return np.array(out, np.int64).reshape(np.shape(variances))


def fraction(x: float) -> Fraction:
    """A policy number as the exact decimal it was written as (``2.5`` → 5/2)."""
    return Fraction(repr(x))


def total_axes(shape: tuple[int, ...]) -> np.ndarray:
    """Per cell of a full cube (``_T`` last on each axis), how many of its axes are totals."""
    totals = np.zeros(shape, np.int64)
    for axis, size in enumerate(shape):
        index: list[int | slice] = [slice(None)] * len(shape)
        index[axis] = size - 1
        totals[tuple(index)] += 1
    return totals


def cell_variances(table: RoundTable, noise: NoiseSpec) -> np.ndarray:
    """The honest noise variance of every cell of a table, ``variance * f**t``, as exact
    fractions (object array of the table's shape)."""
    base = fraction(noise.variance)
    f = noise.margin_factor
    levels = total_axes(table.shape)
    return np.array([base * f ** int(t) for t in levels.ravel()], dtype=object).reshape(table.shape)


def _cell_rdp(alpha: int, v: float) -> float:
    """Rényi DP at order ``alpha`` of one Skellam cell of variance ``v``, sensitivity 1."""
    return alpha / (2 * v) + min((2 * alpha + 5) / (4 * v * v), 3 / (2 * v))


def rdp_curve(variances: Iterable[float]) -> np.ndarray:
    """Rényi DP at every order of :data:`ALPHAS` of a record touching one cell of each of
    the given variances."""
    vs = list(variances)
    return np.array([sum(_cell_rdp(a, v) for v in vs) for a in ALPHAS])


def _touched(table: RoundTable, noise: NoiseSpec) -> list[float]:
    """The variances of the cells one record falls in: one per set of total axes."""
    d = len(table.axes)
    f = float(noise.margin_factor)
    return [noise.variance * f**t for t in range(d + 1) for _ in range(math.comb(d, t))]


def round_rdp(tables: Sequence[RoundTable], noise: NoiseSpec) -> np.ndarray:
    """The Rényi DP curve of one round, for the worst record, against the coordinator and
    up to ``noise.collusion`` colluding participants (the honest noise is the full one)."""
    return rdp_curve(v for t in tables for v in _touched(t, noise))


def epsilon(rdp: np.ndarray, delta: float) -> float:
    """The ε at ``delta`` of a Rényi DP curve over :data:`ALPHAS` (Balle et al. 2020)."""
    if delta <= 0:
        return math.inf
    best = math.inf
    for a, r in zip(ALPHAS, rdp, strict=True):
        eps = r + math.log((a - 1) / a) - (math.log(delta) + math.log(a)) / (a - 1)
        best = min(best, eps)
    return max(best, 0.0)


def announced_epsilon(announcement: RoundAnnouncement) -> float:
    """The ε of one round at its δ, against the coordinator and ``collusion`` participants."""
    return epsilon(round_rdp(announcement.tables, announcement.noise), announcement.noise.delta)
