"""Post-processing of a noisy regional table: an exact, deterministic estimate.

The secure path releases, for every cell of a table (margins included), the true regional
count plus Skellam noise whose variance is ``mu * f**t`` for a cell with ``t`` total
(``_T``) axes: margins are measured with more noise than inner cells, because they are
also learnt from their children. From those raw sums this module derives what the report
publishes, in exact integer arithmetic so that an auditor recomputes it byte for byte:

1. **Generalised least squares** over the table's additivity. With one measurement per
   cell and a variance that is a product over axes, the GLS estimate of the inner cells is
   a Kronecker product of one small matrix per axis (``(f + n) A = [(f + n) I - J, 1]``
   for an axis of ``n`` codes), so it is computed exactly, scaled by
   ``D = prod(f + n_i)``. Its variance is a product too (:func:`estimate_variance`).
2. **Integers that add up, never negative, inside the national bounds.** The published
   inner cells are non-negative integers and every margin is their sum. Inner cells the
   national publications pin (``lo = hi``: every country published its cell) take that
   value. The others are found by a greedy descent from the rounded estimate, lowering
   ``sum_c w_c |D v_c - D xhat_c|`` (``w_c`` the inverse variance) plus a penalty, larger
   than any change of that sum a move can make, for every unit a cell lies outside the
   bounds the national publications give (``[lo, hi]``). A move is one unit up or down on
   one free inner cell or, when none helps, one unit from a cell to a sibling on one axis
   (which keeps every margin over that axis). The best move wins (ties: single moves, the
   lowest cells, lowering first) until none helps. Every step is an integer computation,
   so the result does not depend on the machine; :attr:`Estimate.outside` counts cells the
   descent could not bring inside their bounds (none in the benchmarks).

Post-processing uses only the released sums and public national publications, so it adds
no privacy loss (differential privacy is closed under post-processing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from math import isqrt

import numpy as np

from vanfed.secure._noise import total_axes

__all__ = ["Estimate", "estimate", "estimate_variance", "margin_of_error"]

# z of a two-sided 90 % normal interval, as an exact decimal (1.6449 ≈ Φ⁻¹(0.95)).
Z90 = Fraction(16449, 10000)


def _mode(x: np.ndarray, matrix: np.ndarray, axis: int) -> np.ndarray:
    """Multiply ``x`` by ``matrix`` along ``axis`` (a mode product), in integers."""
    return np.moveaxis(np.tensordot(matrix, x, axes=(1, axis)), 0, axis)


def with_margins(inner: np.ndarray) -> np.ndarray:
    """The full cube of an inner-cell array: every axis gains its total (``_T``) last."""
    x = inner
    for axis in range(x.ndim):
        x = np.concatenate([x, x.sum(axis=axis, keepdims=True)], axis=axis)
    return x


def _to_inner(g: np.ndarray) -> np.ndarray:
    """The transpose of :func:`with_margins`: each inner cell gets the sum of ``g`` over
    every cell that contains it (itself and each margin above it)."""
    x = g
    for axis in range(x.ndim):
        body = np.take(x, range(x.shape[axis] - 1), axis=axis)
        x = body + np.take(x, [x.shape[axis] - 1], axis=axis)
    return x


def gls_scaled(raw: np.ndarray, factor: int) -> tuple[np.ndarray, int]:
    """(D × the GLS estimate of every cell, D): exact integers, margins included."""
    theta = np.asarray(raw, dtype=object)
    scale = 1
    for axis, size in enumerate(raw.shape):
        n = size - 1
        d = factor + n
        a = np.full((n, n + 1), -1, dtype=object)
        a[:, n] = 1
        for j in range(n):
            a[j, j] = d - 1
        theta = _mode(theta, a, axis)
        scale *= d
    return with_margins(theta), scale


def estimate_variance(shape: tuple[int, ...], factor: int, variance: Fraction) -> np.ndarray:
    """Variance of the GLS estimate of every cell, as exact fractions.

    For inner-cell noise ``variance`` and margin factor ``f``, an axis of ``n`` codes
    contributes ``(f + n - 1) / (f + n)`` at a code and ``n f / (f + n)`` at its total.
    """
    out = np.full(shape, Fraction(variance), dtype=object)
    for axis, size in enumerate(shape):
        n = size - 1
        per = [Fraction(factor + n - 1, factor + n)] * n + [Fraction(n * factor, factor + n)]
        view = np.array(per, dtype=object).reshape(
            [size if i == axis else 1 for i in range(len(shape))]
        )
        out = out * view
    return out


def margin_of_error(variance: Fraction) -> int:
    """The smallest integer ``h`` with ``h >= 1.6449 sqrt(variance)`` (a 90 % margin)."""
    need = Z90 * Z90 * variance  # h² >= need
    h = isqrt(need.numerator // need.denominator)
    while Fraction(h * h) < need:
        h += 1
    return h


@dataclass(frozen=True)
class Estimate:
    """What the report publishes for one table: integer cells that add up, and the 90 %
    margin of error of each cell's estimate."""

    values: np.ndarray  # int64, full cube, margins are sums of inner cells
    margins: np.ndarray  # int64, full cube
    outside: int = 0  # cells left outside their national bounds


def estimate(
    raw: Sequence[int] | np.ndarray,
    shape: tuple[int, ...],
    *,
    factor: int,
    variance: Fraction,
    lo: Sequence[int] | np.ndarray | None = None,
    hi: Sequence[int | None] | np.ndarray | None = None,
) -> Estimate:
    """Non-negative integers that add up, fitted to the raw noisy sums of one table.

    Args:
        raw: the released noisy sum of every cell (row-major, ``_T`` last per axis).
        shape: cells per axis, totals included.
        factor: the margin factor ``f`` (variance ``variance * f**t`` at ``t`` totals).
        variance: the noise variance of an inner cell in the released sum.
        lo, hi: bounds every cell must keep where it can (``None`` in ``hi``: unbounded).
    """
    y = np.asarray(raw, dtype=object).reshape(shape)
    target, scale = gls_scaled(y, factor)
    low = np.zeros(shape, dtype=object) if lo is None else np.asarray(lo, dtype=object)
    high = np.full(shape, None, dtype=object) if hi is None else np.array(list(hi), dtype=object)
    fit = _Fit(shape, factor, target, scale, low.reshape(shape), high.reshape(shape))
    values = fit.run()
    var = estimate_variance(shape, factor, variance)
    moe = np.array([margin_of_error(v) for v in var.ravel()], np.int64).reshape(shape)
    outside = int(np.count_nonzero(fit.outside(values)))
    return Estimate(values.astype(np.int64), moe, outside)


def _unit_inner(shape: tuple[int, ...], j: int, k: int) -> np.ndarray:
    """An inner-cell array with +1 at ``j`` and -1 at ``k``."""
    out = np.zeros(int(np.prod(shape)), dtype=object)
    out[j] += 1
    out[k] -= 1
    return out.reshape(shape)


class _Fit:
    """The greedy integer fit of the module docstring (step 2), in exact integers."""

    def __init__(
        self,
        shape: tuple[int, ...],
        factor: int,
        target: np.ndarray,
        scale: int,
        low: np.ndarray,
        high: np.ndarray,
    ) -> None:
        self.shape, self.target, self.scale, self.low, self.high = shape, target, scale, low, high
        d = len(shape)
        self.inner_shape = tuple(n - 1 for n in shape)
        self.weight = np.array(
            [factor ** (d - int(t)) for t in total_axes(shape).ravel()], dtype=object
        ).reshape(shape)
        # a unit outside a bound outweighs the fit change of any move (up to four cells)
        self.penalty = 4 * (factor + 1) ** d + 1
        index = tuple(slice(0, n - 1) for n in shape)
        lo, hi = low[index].ravel(), high[index].ravel()
        self.free = np.array([h is None or h > x for x, h in zip(lo, hi, strict=True)], bool)
        self.siblings = self._siblings()

    def outside(self, v: np.ndarray) -> np.ndarray:
        """Per cell, how far ``v`` lies outside its bounds."""
        above = [
            0 if h is None else max(x - h, 0)
            for x, h in zip(v.ravel(), self.high.ravel(), strict=True)
        ]
        return np.maximum(self.low - v, 0) + np.array(above, dtype=object).reshape(v.shape)

    def change(self, values: np.ndarray, step: int) -> np.ndarray:
        """Per cell, how much the cost changes if the cell's value moves by ``step``."""
        now = np.abs(values * self.scale - self.target)
        then = np.abs((values + step) * self.scale - self.target)
        bound = self.outside(values + step) - self.outside(values)
        return self.weight * (then - now) + bound * self.scale * self.penalty

    def start(self) -> np.ndarray:
        """The rounded (half up) GLS estimate of the inner cells, within their own bounds."""
        index = tuple(slice(0, n - 1) for n in self.shape)
        out = []
        for t, lo, hi in zip(
            self.target[index].ravel(),
            self.low[index].ravel(),
            self.high[index].ravel(),
            strict=True,
        ):
            v = max(int(lo), 0, (2 * int(t) + self.scale) // (2 * self.scale))
            out.append(v if hi is None else min(v, int(hi)))
        return np.array(out, dtype=object).reshape(self.inner_shape)

    def run(self) -> np.ndarray:
        """Descend from :meth:`start` until no move lowers the cost; the full cube."""
        inner = self.start()
        while True:
            values = with_margins(inner)
            move = self._best(inner.ravel(), values)
            if move is None:
                return values
            flat = inner.reshape(-1)
            for j, step in move:
                flat[j] += step

    def _best(self, flat: np.ndarray, values: np.ndarray) -> tuple[tuple[int, int], ...] | None:
        """The move that lowers the cost most (None: none does). Ties: single moves before
        pairs, then the lowest cells, lowering first."""
        up = _to_inner(self.change(values, +1)).ravel()
        down = _to_inner(self.change(values, -1)).ravel()
        best: tuple[int, tuple[tuple[int, int], ...]] | None = None
        for j in (int(c) for c in np.flatnonzero(self.free)):
            for step, delta in ((-1, int(down[j])), (1, int(up[j]))):
                if delta < 0 and (step > 0 or flat[j] > 0):
                    best = min(best or (delta, ((j, step),)), (delta, ((j, step),)))
        if best is not None:
            return best[1]
        toward = self._toward_bounds(values)
        for j, k in (*self.siblings, *toward):
            if flat[k] > 0:
                delta = self._pair(values, j, k)
                if delta < 0:
                    best = min(best or (delta, ((j, 1), (k, -1))), (delta, ((j, 1), (k, -1))))
        if best is None and toward:
            return self._two_pairs(flat, values, toward)
        return None if best is None else best[1]

    def _two_pairs(
        self, flat: np.ndarray, values: np.ndarray, toward: list[tuple[int, int]]
    ) -> tuple[tuple[int, int], ...] | None:
        """Still outside a bound and no single move or pair helps: a pair toward the bound
        followed by a second pair that repairs what the first one broke (a cycle of four
        cells, the basic move of a two-way table)."""
        best: tuple[int, tuple[tuple[int, int], ...]] | None = None
        for j, k in toward:
            if flat[k] <= 0:
                continue
            first = self._pair(values, j, k)
            after = values + with_margins(_unit_inner(self.inner_shape, j, k))
            for a, b in (*self.siblings, *toward):
                if (a, b) != (k, j) and flat[b] - (b == k) + (b == j) > 0:
                    delta = first + self._pair(after, a, b)
                    if delta < 0:
                        move = ((j, 1), (k, -1), (a, 1), (b, -1))
                        best = min(best or (delta, move), (delta, move))
        return None if best is None else best[1]

    def _siblings(self) -> list[tuple[int, int]]:
        """(j, k) of free inner cells that differ on one axis: moving a unit from k to j
        keeps every margin over that axis."""
        index = np.arange(int(np.prod(self.inner_shape))).reshape(self.inner_shape)
        out = []
        for axis, n in enumerate(self.inner_shape):
            for row in np.moveaxis(index, axis, -1).reshape(-1, n):
                cells = [int(j) for j in row if self.free[j]]
                out += [(a, b) for a in cells for b in cells if a != b]
        return out

    def _toward_bounds(self, values: np.ndarray) -> list[tuple[int, int]]:
        """(j, k) that move a unit into a cell below its bound (j inside it, k outside) or
        out of a cell above it (k inside, j outside): the moves a stuck descent needs."""
        gap = self.outside(values)
        free = [int(j) for j in np.flatnonzero(self.free)]
        out = []
        for c in zip(*np.nonzero(gap), strict=True):
            low = values[c] < self.low[c]
            inside = {j for j in free if self._holds(c, j)}
            for a in inside:
                out += [(a, b) if low else (b, a) for b in free if b not in inside]
        return out

    def _holds(self, cell: tuple[int, ...], j: int) -> bool:
        """Whether the cell (a full-cube index) counts inner cell ``j``."""
        at = np.unravel_index(j, self.inner_shape)
        return all(c == n - 1 or c == int(i) for c, n, i in zip(cell, self.shape, at, strict=True))

    def _pair(self, values: np.ndarray, j: int, k: int) -> int:
        """The cost change of +1 on inner cell j and -1 on inner cell k: every cell that
        counts one of them but not both changes by one unit."""
        d = len(self.shape)
        delta = 0
        for cell, other, step in ((j, k, 1), (k, j, -1)):
            at = np.unravel_index(cell, self.inner_shape)
            for mask in range(2**d):
                c = tuple(self.shape[i] - 1 if mask >> i & 1 else int(at[i]) for i in range(d))
                if self._holds(c, other):
                    continue
                delta += self._unit(values[c], step, c)
        return delta

    def _unit(self, v: int, step: int, c: tuple[int, ...]) -> int:
        """The cost change of cell ``c`` moving from ``v`` by ``step``."""
        t, lo, hi = self.target[c], self.low[c], self.high[c]
        fit = self.weight[c] * (abs((v + step) * self.scale - t) - abs(v * self.scale - t))

        def out(x: int) -> int:
            return max(lo - x, 0) + (0 if hi is None else max(x - hi, 0))

        return int(fit + (out(v + step) - out(v)) * self.scale * self.penalty)
